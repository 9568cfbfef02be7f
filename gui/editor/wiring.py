"""Dragging a wire between ports, with every target judged by `Network.can_connect`.

While the mouse is down, ports that would be refused are drawn with a red
cross and the ones that would be accepted in green, and the rubber wire turns
red with the reason beside the cursor over a refused port. Releasing on an
accepted port pushes one `ConnectCommand`; dragging the wire out of a wired
input unplugs it (drop on empty canvas disconnects, drop on another input
moves it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from engine.document import Edge
from gui import theme
from gui.editor.edge_item import wire_path
from gui.editor.node_item import PortItem
from gui.editor.text import fonts

if TYPE_CHECKING:
    from gui.editor.scene import EditorScene

HIT = 12.0  # how close to a port counts as over it, scene pixels


class ReasonBubble(QGraphicsItem):
    """Why the port under the cursor is refused, on a dark pill that stays readable."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.setZValue(6)

    def set_text(self, text: str) -> None:
        self.prepareGeometryChange()
        self.text = text
        self.update()

    def boundingRect(self) -> QRectF:
        fm = fonts()["body_fm"]
        return QRectF(0, 0, fm.horizontalAdvance(self.text) + 16, fm.height() + 8)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        rect = self.boundingRect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.REFUSE, 1))
        painter.setBrush(theme.LABEL_BG)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        painter.setFont(fonts()["body"])
        painter.setPen(theme.REFUSE)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text)


class WireDrag:
    """The state of one wire drag in a scene (at most one at a time)."""

    def __init__(self, scene: EditorScene) -> None:
        self.scene = scene
        self.active = False
        self.anchor: PortItem | None = None  # where the rubber wire is fixed
        self.from_output = True  # True: looking for an input; False: for an output
        self.unplug: Edge | None = None
        self.verdicts: dict[PortItem, str | None] = {}
        self.hover: PortItem | None = None
        self.wire: QGraphicsPathItem | None = None
        self.reason: ReasonBubble | None = None

    # ---- the gesture -------------------------------------------------------------

    def begin(self, port: PortItem, scene_pos: QPointF) -> None:
        """Start from `port`; a wired input hands over its wire (unplugging it)."""
        self.cancel()
        self.active, self.unplug = True, None
        if not port.is_output:
            edge = self.scene.net.incoming(port.node_item.node_id).get(port.name)
            if edge is not None:
                self.unplug = edge
                port = self.scene.nodes[edge.src].outputs[edge.src_port]
                self.scene.edges[edge].setVisible(False)
        self.anchor, self.from_output = port, port.is_output
        self.wire = QGraphicsPathItem()
        self.wire.setZValue(5)
        self.scene.addItem(self.wire)
        self._judge_visible_ports()
        self.move(scene_pos)

    def move(self, scene_pos: QPointF) -> None:
        if not self.active or self.wire is None:
            return
        target = self.port_at(scene_pos)
        if target is not self.hover:
            self.hover = target
        end = target.scenePos() if target is not None else scene_pos
        start = self.anchor.scenePos()
        path = wire_path(start, end) if self.from_output else wire_path(end, start)
        self.wire.setPath(path)
        reason = self.verdict(target) if target is not None else None
        colour = theme.EDGE if target is None else (theme.REFUSE if reason else theme.ACCEPT)
        pen = QPen(colour, 2.4)
        if target is None:
            pen.setDashPattern([4, 3])
        self.wire.setPen(pen)
        self._show_reason(reason, scene_pos)

    def finish(self, scene_pos: QPointF) -> bool:
        """Release: connect, move or disconnect as the target says; True if the document changed."""
        if not self.active:
            return False
        target = self.port_at(scene_pos)
        unplug, name = self.unplug, self.scene.network_name
        session = self.scene.session
        changed = False
        if target is None:
            changed = unplug is not None and session.disconnect(name, [unplug])
        elif (reason := self.verdict(target)) is not None:
            session.refused.emit(reason)
        else:
            source, dest = self._ends(target)
            if unplug is None or unplug.target != dest or unplug.source != source:
                changed = session.connect(name, source, dest, unplug)
        self.cancel()
        return changed

    def cancel(self) -> None:
        """Drop the gesture and every mark it left (Escape, or after finishing)."""
        if self.wire is not None and self.wire.scene() is not None:
            self.scene.removeItem(self.wire)
        if self.reason is not None and self.reason.scene() is not None:
            self.scene.removeItem(self.reason)
        for port in self.verdicts:
            port.set_state(PortItem.NORMAL)
        if self.unplug is not None and self.unplug in self.scene.edges:
            self.scene.edges[self.unplug].setVisible(True)
        self.wire = self.reason = self.anchor = self.hover = self.unplug = None
        self.verdicts = {}
        self.active = False

    # ---- judging targets -----------------------------------------------------------

    def _ends(self, target: PortItem) -> tuple[str, str]:
        if self.from_output:
            return self.anchor.address, target.address
        return target.address, self.anchor.address

    def verdict(self, target: PortItem) -> str | None:
        """Why wiring to `target` is refused (None: accepted), cached for the drag."""
        if target not in self.verdicts:
            self.verdicts[target] = self._judge(target)
            target.set_state(PortItem.REFUSE if self.verdicts[target] else PortItem.ACCEPT)
        return self.verdicts[target]

    def _judge(self, target: PortItem) -> str | None:
        if target.is_output == self.from_output:
            return "wire an output to an input"
        source, dest = self._ends(target)
        if self.unplug is not None and self.unplug.target == dest:
            return None  # putting the wire back where it was
        return self.scene.net.can_connect(source, dest)

    def _judge_visible_ports(self) -> None:
        """Mark the candidate ports on screen; those off screen are judged on arrival."""
        visible = self.scene.visible_rect()
        for item in self.scene.nodes.values():
            if visible is not None and not visible.intersects(item.sceneBoundingRect()):
                continue
            for port in (item.inputs if self.from_output else item.outputs).values():
                self.verdict(port)

    def port_at(self, scene_pos: QPointF) -> PortItem | None:
        """The nearest port of the wanted direction within `HIT` pixels."""
        area = QRectF(scene_pos.x() - HIT, scene_pos.y() - HIT, 2 * HIT, 2 * HIT)
        best, best_d = None, HIT * HIT * 2
        for item in self.scene.items(area):
            if not isinstance(item, PortItem) or item is self.anchor:
                continue
            d = QPointF.dotProduct(item.scenePos() - scene_pos, item.scenePos() - scene_pos)
            if d < best_d:
                best, best_d = item, d
        return best

    def _show_reason(self, reason: str | None, scene_pos: QPointF) -> None:
        if reason is None:
            if self.reason is not None:
                self.reason.setVisible(False)
            return
        if self.reason is None:
            self.reason = ReasonBubble()
            self.scene.addItem(self.reason)
        self.reason.set_text(reason)
        self.reason.setPos(scene_pos + QPointF(14, 12))
        self.reason.setVisible(True)
