"""The scene of one network: a node-id → card map kept in step with the Document.

Items are created, updated and removed only in answer to the network's
events (orange-canvas-core's `canvas/scene.py`), and reports from the checker
are applied as they arrive: the scene hands each card its node, which of its
ports are wired and its report, so cards never read the network. Gestures that reach the scene (moving cards,
adding blocks) become calls on the `EditorSession`, never direct edits.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsScene

from engine.blocks.base import fmt_shape
from engine.composites import is_composite
from engine.document import Edge, Network, Node
from engine.fixes import Fix
from gui.editor.edge_item import EdgeItem
from gui.editor.geometry import CARD_WIDTH, HEADER, SCALE, snap, to_doc, to_scene
from gui.editor.graphs import graph_of
from gui.editor.node_item import NodeItem
from gui.editor.room import Card, pushes
from gui.editor.session import EditorSession
from gui.editor.wiring import WireDrag

SCENE_MARGIN = 2000.0


class EditorScene(QGraphicsScene):
    """Cards and wires of one network, or of one composite's definition: `network_name`
    is the key of `gui/editor/graphs.py` ("main", "block:ResidualBlock")."""

    reportApplied = Signal()
    definitionRequested = Signal(str)  # a composite's name: open its definition

    def __init__(self, session: EditorSession, network_name: str) -> None:
        super().__init__()
        self.session = session
        self.network_name = network_name
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self.snap_enabled = True
        self.wiring = WireDrag(self)
        self._drag: tuple[int, QPointF, str, dict[str, tuple[float, float]]] | None = None
        self._building = True
        self.pushes: dict[str, float] = {}  # node id -> how far down it is drawn (room.py)
        self.bridge = bridge = session.network_signals[network_name]
        bridge.nodeAdded.connect(self._on_node_added)
        bridge.nodeRemoved.connect(self._on_node_removed)
        bridge.edgeAdded.connect(self._on_edge_added)
        bridge.edgeRemoved.connect(self._on_edge_removed)
        bridge.paramChanged.connect(self._on_param_changed)
        bridge.nodeMoved.connect(self._on_node_moved)
        session.checked.connect(self.apply_report)
        for node in self.net.nodes.values():
            self._on_node_added(node)
        for edge in self.net.edges:
            self._on_edge_added(edge)
        self._building = False
        self.apply_report()
        self.update_scene_rect()

    @property
    def net(self) -> Network:
        return graph_of(self.session.document, self.network_name)

    # ---- model events ------------------------------------------------------------

    def _on_node_added(self, node: Node) -> None:
        item = NodeItem(node, *self._wiring_of(node.id))
        self.nodes[node.id] = item
        self.addItem(item)
        if not self._building:
            self.update_scene_rect()

    def _wiring_of(self, node_id: str) -> tuple[set[str], set[str]]:
        """The node's wired input ports and its output ports that feed something."""
        net = self.net
        return set(net.incoming(node_id)), {e.src_port for e in net.outgoing(node_id)}

    def _rewire(self, node_id: str) -> None:
        """Tell a card which of its ports are wired now; its wires follow if it resized."""
        item = self.nodes.get(node_id)
        if item is not None and node_id in self.net.nodes and item.set_wiring(*self._wiring_of(node_id)):
            self.node_geometry_changed(item)

    def _on_node_removed(self, node: Node) -> None:
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)

    def _on_edge_added(self, edge: Edge) -> None:
        item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst])
        self.edges[edge] = item
        self.addItem(item)
        if not self._building:
            self._rewire(edge.src)
            self._rewire(edge.dst)

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is not None:
            self.removeItem(item)
        for node_id in (edge.src, edge.dst):
            self._rewire(node_id)

    def _on_param_changed(self, node: Node, name: str) -> None:
        item = self.nodes[node.id]
        item.refresh()
        self.node_geometry_changed(item)

    def _on_node_moved(self, node: Node) -> None:
        item = self.nodes[node.id]
        item.setPos(to_scene(node.pos) + QPointF(0, self.pushes.get(node.id, 0.0)))
        self.node_geometry_changed(item)
        self.make_room()

    def make_room(self) -> None:
        """Draw cards below a grown card lower, so nothing is covered (gui/editor/room.py)."""
        net = self.net
        cards = []
        for node_id, item in self.nodes.items():
            if node_id in net.nodes:
                at = to_scene(net.nodes[node_id].pos)
                cards.append(Card(node_id, at.x(), at.y(), item.compact_height, item.height))
        wanted = pushes(cards)
        changed = set(wanted) ^ set(self.pushes) | {n for n in wanted
                                                     if wanted[n] != self.pushes.get(n)}
        self.pushes = wanted
        for node_id in changed:
            item = self.nodes[node_id]
            item.setPos(to_scene(net.nodes[node_id].pos) + QPointF(0, wanted.get(node_id, 0.0)))
            self.node_geometry_changed(item)

    def node_geometry_changed(self, item: NodeItem) -> None:
        """A card moved or resized: its wires follow."""
        if self._building:
            return
        net = self.net
        if item.node_id not in net.nodes:
            return
        wires = list(net.incoming(item.node_id).values()) + net.outgoing(item.node_id)
        for edge in wires:
            if edge in self.edges:
                self.edges[edge].update_path()

    def apply_fix(self, fix: Fix) -> bool:
        """A quick fix clicked on a card: one undo step, like the Problems panel's button."""
        from gui.editor.fix_command import apply_quick_fix

        return apply_quick_fix(self.session, fix)

    def apply_report(self) -> None:
        """Show the latest check: node states and shapes, and a label on every edge."""
        report = self.session.report_for(self.network_name)
        if report is None:
            return
        for node_id, item in self.nodes.items():
            if item.node.spec is not item.spec:  # its composite's definition was edited
                item.set_spec(item.node.spec)
            if item.set_report(report.nodes.get(node_id)):
                self.node_geometry_changed(item)
        for edge, item in self.edges.items():
            shape = report.edges.get(edge)
            item.set_label(fmt_shape(shape) if shape is not None else "")
        self.make_room()
        self.reportApplied.emit()

    def update_scene_rect(self) -> None:
        """Leave room around the graph so it can be panned past its edges."""
        rect = self.itemsBoundingRect()
        self.setSceneRect(rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN))

    def visible_rect(self) -> QRectF | None:
        views = self.views()
        if not views:
            return None
        view = views[0]
        return view.mapToScene(view.viewport().rect()).boundingRect()

    # ---- selection -----------------------------------------------------------------

    def selected_node_ids(self) -> list[str]:
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [n for n in self.net.nodes if n in chosen]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for node_id in node_ids:
            if node_id in self.nodes:
                self.nodes[node_id].setSelected(True)

    # ---- gestures --------------------------------------------------------------------

    def add_block_at(self, block: str, scene_pos: QPointF) -> str | None:
        """Add `block` with its card's header centred under `scene_pos`; select it."""
        corner = scene_pos - QPointF(CARD_WIDTH / 2, HEADER / 2)
        node_id = self.session.add_node(self.network_name, block,
                                        snap(to_doc(corner), self.snap_enabled))
        if node_id is not None:
            self.select_nodes([node_id])
        return node_id

    def begin_move(self, item: NodeItem, scene_pos: QPointF) -> None:
        ids = self.selected_node_ids() or [item.node_id]
        if item.node_id not in ids:
            ids = [item.node_id]
        start = {n: self.net.node(n).pos for n in ids}
        self._drag = (self.session.new_gesture(), scene_pos, item.node_id, start)

    def drag_move(self, scene_pos: QPointF) -> None:
        """Move the dragged cards; every step joins the same undo step."""
        if self._drag is None:
            return
        gesture, pressed, anchor, start = self._drag
        delta = scene_pos - pressed
        ax, ay = start[anchor]
        nx, ny = snap((ax + delta.x() / SCALE, ay + delta.y() / SCALE), self.snap_enabled)
        dx, dy = nx - ax, ny - ay
        positions = {n: (x + dx, y + dy) for n, (x, y) in start.items()}
        self.session.move(self.network_name, positions, gesture)

    def end_move(self) -> None:
        if self._drag is not None:
            self._drag = None
            self.update_scene_rect()

    def open_definition(self, node_id: str) -> bool:
        """Double-click on a composite's card: ask for its definition's tab."""
        node = self.net.nodes.get(node_id)
        if node is None or not is_composite(node.spec):
            return False
        self.definitionRequested.emit(node.block)
        return True

    def height_of(self, node_id: str) -> float:
        """A card's height in document units (for auto-layout)."""
        return self.nodes[node_id].height / SCALE

    def close(self) -> None:
        """Disconnect from the session before the scene is thrown away."""
        self.wiring.cancel()
        bridge = self.bridge  # its own: the session may hold a new one for this key by now
        for signal, slot in ((bridge.nodeAdded, self._on_node_added),
                             (bridge.nodeRemoved, self._on_node_removed),
                             (bridge.edgeAdded, self._on_edge_added),
                             (bridge.edgeRemoved, self._on_edge_removed),
                             (bridge.paramChanged, self._on_param_changed),
                             (bridge.nodeMoved, self._on_node_moved)):
            signal.disconnect(slot)
        self.session.checked.disconnect(self.apply_report)
