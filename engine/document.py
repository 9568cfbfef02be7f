"""The document: named networks of nodes and edges plus a training setup.

This is the one source of truth of the program. The editor's items observe it
through `Event`s and change it only through the methods below (wrapped in undo
commands); the compiler and the trainers read it. Reading and writing files
lives in `engine/readwrite.py`.
"""

from __future__ import annotations

import copy
import heapq
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.composites.holder import BlockHolder, resolve_default
from engine.errors import EditError
from engine.observer import Event

if TYPE_CHECKING:
    import networkx as nx

    from engine.blocks.base import BlockSpec
    from engine.composites.model import ExposedParam


def _nx():
    """networkx, imported on first use: loading and checking a document never need it
    (ordering is Kahn's algorithm below), and it costs `netcanvas check` a few hundred ms."""
    import networkx

    return networkx

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # whole string: fullmatch (a "$" let "fc\n" in)


@dataclass
class Node:
    """One block on the canvas. `params` holds only what differs from the defaults."""

    id: str
    block: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept verbatim

    @property
    def spec(self) -> BlockSpec:
        """The block's declaration, resolved through the network that holds the node:
        the document's own composites, then the built-in ones, then the catalogue."""
        network = self.__dict__.get("_network")
        return network.resolve(self.block) if network is not None else resolve_default(self.block)

    def __deepcopy__(self, memo: dict) -> Node:
        """A copy of the record alone: the owning network is not copied along."""
        return Node(self.id, self.block, copy.deepcopy(self.params, memo), self.pos,
                    copy.deepcopy(self.extra, memo))

    def resolved_params(self) -> dict[str, Any]:
        return self.spec.resolve(self.params)


@dataclass(frozen=True)
class Edge:
    """A wire from an output port to an input port."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def source(self) -> str:
        return f"{self.src}.{self.src_port}"

    @property
    def target(self) -> str:
        return f"{self.dst}.{self.dst_port}"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


def split_address(address: str) -> tuple[str, str]:
    """`"conv1.out"` -> `("conv1", "out")`; a bare node id means its single port."""
    node, _, port = address.partition(".")
    return node, port


class Network:
    """A directed graph of blocks; every edit notifies its subscribers."""

    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.extra: dict[str, Any] = {}
        # A composite's definition (`Document.blocks`) also has a doc and exposed params.
        self.doc = ""
        self.exposed: list[ExposedParam] = []
        self.is_definition = False
        self.context: BlockHolder | None = None  # resolves block names; None: built-ins
        self.node_added = Event()  # (node)
        self.node_removed = Event()  # (node)
        self.edge_added = Event()  # (edge)
        self.edge_removed = Event()  # (edge)
        self.param_changed = Event()  # (node, name)
        self.node_moved = Event()  # (node)
        self.changed = Event()  # () after any edit: checking and dirty tracking listen here
        self._graph: nx.MultiDiGraph | None = None
        # Indexes kept in step with `edges` so that checking a node is O(its edges),
        # not O(all edges): shape inference asks for every node on every edit.
        self._incoming: dict[str, dict[str, Edge]] = {}
        self._outgoing: dict[str, list[Edge]] = {}
        self._order: list[str] | None = None

    # ---- queries -------------------------------------------------------------

    def resolve(self, block: str) -> BlockSpec:
        """The declaration of `block` as this network sees it; KeyError when unknown."""
        return self.context.resolve_block(block) if self.context else resolve_default(block)

    def blocks_revision(self) -> int:
        """Changes whenever a composite definition this network can use changes."""
        return self.context.revision if self.context else 0

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise EditError(f"no node '{node_id}' in network '{self.name}'") from None

    def graph(self) -> nx.MultiDiGraph:
        """The wiring as a networkx graph (cached until the next structural edit)."""
        if self._graph is None:
            graph = _nx().MultiDiGraph()
            graph.add_nodes_from(self.nodes)
            for e in self.edges:
                graph.add_edge(e.src, e.dst, key=(e.src_port, e.dst_port))
            self._graph = graph
        return self._graph

    def topological_order(self) -> list[str]:
        """Node ids so that every edge goes forward; raises NetworkXUnfeasible on a cycle.

        Ties go to file order, so the compiled code reads in the order the
        person laid the blocks out. Cached until the next structural edit.
        """
        if self._order is None:
            order, left = self.ordered()
            if left:
                raise _nx().NetworkXUnfeasible(
                    f"network '{self.name}' has a cycle through {', '.join(sorted(left))}")
            self._order = order
        return list(self._order)

    def ordered(self, skip: set[str] | frozenset[str] = frozenset()) -> tuple[list[str], set[str]]:
        """Kahn's algorithm with file-order ties: (ordered ids, ids left over by cycles).

        What is left over is every node on a cycle or downstream of one; nodes in
        `skip` and their edges are ignored, so skipping the cycles orders the rest.
        """
        ids = list(self.nodes)
        index = {n: i for i, n in enumerate(ids)}
        indegree = {n: 0 for n in ids if n not in skip}
        for e in self.edges:
            if e.src in indegree and e.dst in indegree:
                indegree[e.dst] += 1
        heap = [index[n] for n, d in indegree.items() if d == 0]
        heapq.heapify(heap)
        order = []
        while heap:
            node_id = ids[heapq.heappop(heap)]
            order.append(node_id)
            for e in self._outgoing.get(node_id, ()):
                if e.dst in indegree:
                    indegree[e.dst] -= 1
                    if indegree[e.dst] == 0:
                        heapq.heappush(heap, index[e.dst])
        return order, set(indegree) - set(order)

    def cycle_nodes(self) -> set[str]:
        """Nodes that lie on a cycle (a self-loop counts), not those merely downstream."""
        _, left = self.ordered()
        if not left:
            return set()
        sub = self.graph().subgraph(left)
        on_cycle = {n for c in _nx().strongly_connected_components(sub) if len(c) > 1 for n in c}
        return on_cycle | {n for n in left if sub.has_edge(n, n)}

    def cycle_through(self, node_id: str) -> list[str]:
        """A shortest cycle through `node_id` in wiring order (empty if there is none)."""
        graph = self.graph()
        if graph.has_edge(node_id, node_id):
            return [node_id]
        best: list[str] = []
        nx = _nx()
        for successor in set(graph.successors(node_id)):
            try:
                path = nx.shortest_path(graph, successor, node_id)
            except nx.NetworkXNoPath:
                continue
            if not best or len(path) < len(best):
                best = path
        return [node_id] + best[:-1] if best else []

    def cycles(self) -> list[list[str]]:
        """One cycle per group of nodes that feed each other, in wiring order.

        Unlike enumerating every simple cycle this stays cheap on dense graphs.
        """
        cyclic = self.cycle_nodes()
        found: list[list[str]] = []
        seen: set[str] = set()
        for node_id in self.nodes:
            if node_id in cyclic and node_id not in seen:
                cycle = self.cycle_through(node_id)
                seen.update(cycle)
                found.append(cycle)
        return found

    def downstream(self, node_id: str) -> set[str]:
        """The node and everything reachable from it: what an edit can affect."""
        return {node_id} | _nx().descendants(self.graph(), node_id)

    def _reaches(self, start: str, goal: str) -> bool:
        """Whether a wiring path leads from `start` to `goal` (a walk over the edge index,
        so wiring while a file loads needs no networkx graph)."""
        stack, seen = [start], {start}
        while stack:
            for e in self._outgoing.get(stack.pop(), ()):
                if e.dst == goal:
                    return True
                if e.dst not in seen:
                    seen.add(e.dst)
                    stack.append(e.dst)
        return False

    def incoming(self, node_id: str) -> dict[str, Edge]:
        """The edge into each wired input port of a node."""
        return dict(self._incoming.get(node_id, {}))

    def outgoing(self, node_id: str) -> list[Edge]:
        return list(self._outgoing.get(node_id, ()))

    def unique_id(self, block: str) -> str:
        """A fresh readable id such as `conv2d_3`, valid as a Python identifier."""
        base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", block).lower().replace("__", "_")
        base = re.sub(r"[^a-z0-9_]", "", base) or "node"
        n = 1
        while f"{base}_{n}" in self.nodes:
            n += 1
        return f"{base}_{n}"

    # ---- edits ---------------------------------------------------------------

    def add_node(self, block: str, params: dict[str, Any] | None = None,
                 pos: tuple[float, float] = (0.0, 0.0), node_id: str | None = None,
                 extra: dict[str, Any] | None = None) -> Node:
        self.resolve(block)  # raises for an unknown block
        if self.is_definition and self.context is not None:
            cycle = self.context.use_cycle(self.name, block)
            if cycle:
                raise EditError(f"{self.name} cannot use {block}: it would use itself "
                                f"({' -> '.join(cycle)})")
        node_id = node_id or self.unique_id(block)
        if not IDENTIFIER.fullmatch(node_id):
            raise EditError(f"node id '{node_id}' must be a Python identifier (letters, digits, _)")
        if node_id in self.nodes:
            raise EditError(f"a node '{node_id}' already exists in network '{self.name}'")
        node = Node(node_id, block, dict(params or {}), (float(pos[0]), float(pos[1])),
                    dict(extra or {}))
        node._network = self
        self.nodes[node_id] = node
        self._structure_changed()
        self.node_added.emit(node)
        self.changed.emit()
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so an undo can restore them."""
        node = self.node(node_id)
        edges = [e for e in self.edges if node_id in (e.src, e.dst)]
        for edge in edges:
            self._remove_edge(edge)
        del self.nodes[node_id]
        self._incoming.pop(node_id, None)
        self._outgoing.pop(node_id, None)
        self._structure_changed()
        self.node_removed.emit(node)
        self.changed.emit()
        return node, edges

    def restore_node(self, node: Node, index: int | None = None) -> None:
        """Put back a node object removed earlier (undo), at its old place in the order."""
        if node.id in self.nodes:
            raise EditError(f"a node '{node.id}' already exists in network '{self.name}'")
        items = list(self.nodes.items())
        items.insert(len(items) if index is None else index, (node.id, node))
        self.nodes = dict(items)
        node._network = self
        self._structure_changed()
        self.node_added.emit(node)
        self.changed.emit()

    def can_connect(self, source: str, target: str) -> str | None:
        """Why wiring `source` to `target` is refused, or None when it is allowed."""
        src, src_port = split_address(source)
        dst, dst_port = split_address(target)
        if src not in self.nodes or dst not in self.nodes:
            missing = src if src not in self.nodes else dst
            return f"no node '{missing}' in network '{self.name}'"
        if src == dst:
            return f"cannot wire '{src}' to itself"
        if src_port not in self.nodes[src].spec.output_names():
            return f"'{self.nodes[src].block}' has no output port '{src_port}'"
        if not self.nodes[dst].spec.accepts_input(dst_port):
            return f"'{self.nodes[dst].block}' has no input port '{dst_port}'"
        if self._reaches(dst, src):
            return f"wiring {source} -> {target} would close a cycle"
        return None

    def connect(self, source: str, target: str, extra: dict[str, Any] | None = None,
                ) -> tuple[Edge, Edge | None]:
        """Wire an output to an input; an input takes one edge, so an old one is replaced.

        Returns the new edge and the one it replaced (for undo).
        """
        reason = self.can_connect(source, target)
        if reason:
            raise EditError(reason)
        src, src_port = split_address(source)
        dst, dst_port = split_address(target)
        replaced = self._incoming.get(dst, {}).get(dst_port)
        if replaced is not None:
            self._remove_edge(replaced)
        edge = Edge(src, src_port, dst, dst_port, dict(extra or {}))
        self._append_edge(edge)
        self.edge_added.emit(edge)
        self.changed.emit()
        return edge, replaced

    def add_edge(self, edge: Edge) -> None:
        """Re-insert an edge object as it was (load, paste, undo); no cycle check.

        An input still takes one edge: undo must take the replacing edge away first.
        """
        for name in (edge.src, edge.dst):
            self.node(name)
        taken = self._incoming.get(edge.dst, {}).get(edge.dst_port)
        if taken == edge:
            raise EditError(f"edge {edge} already exists")
        if taken is not None:
            raise EditError(f"input {edge.target} is already wired from {taken.source}")
        self._append_edge(edge)
        self.edge_added.emit(edge)
        self.changed.emit()

    def disconnect(self, edge: Edge) -> None:
        if edge not in self.edges:
            raise EditError(f"no edge {edge} in network '{self.name}'")
        self._remove_edge(edge)
        self.changed.emit()

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set a parameter (None resets it to its default); returns the old stored value."""
        node = self.node(node_id)
        old = node.params.get(name)
        if value is None:
            node.params.pop(name, None)
        else:
            node.params[name] = copy.deepcopy(value)
        self.param_changed.emit(node, name)
        self.changed.emit()
        return old

    def move(self, node_id: str, pos: tuple[float, float]) -> None:
        node = self.node(node_id)
        node.pos = (float(pos[0]), float(pos[1]))
        self.node_moved.emit(node)
        self.changed.emit()

    def reorder_edges(self, order: list[Edge]) -> None:
        """Put the same edges in another file order (an exact undo of a regroup)."""
        index = {e: i for i, e in enumerate(order)}  # an input takes one edge: unique keys
        if len(index) != len(self.edges) or any(e not in index for e in self.edges):
            raise EditError("reorder_edges needs exactly the network's edges")
        self.edges = list(order)
        for outgoing in self._outgoing.values():
            outgoing.sort(key=index.__getitem__)

    def _append_edge(self, edge: Edge) -> None:
        self.edges.append(edge)
        self._incoming.setdefault(edge.dst, {})[edge.dst_port] = edge
        self._outgoing.setdefault(edge.src, []).append(edge)
        self._structure_changed()

    def _remove_edge(self, edge: Edge) -> None:
        self.edges.remove(edge)
        ports = self._incoming.get(edge.dst, {})
        if ports.get(edge.dst_port) == edge:
            del ports[edge.dst_port]
        self._outgoing[edge.src].remove(edge)
        self._structure_changed()
        self.edge_removed.emit(edge)

    def _structure_changed(self) -> None:
        self._graph = None
        self._order = None


class Document(BlockHolder):
    """Named networks, composite definitions and the training setup; what a file holds.

    The composite-block part (`blocks`, `add_block`, `resolve_block`, ...) lives in
    `engine.composites.holder.BlockHolder`.
    """

    def __init__(self, name: str = "Untitled", description: str = "") -> None:
        self.name = name
        self.description = description
        self.networks: dict[str, Network] = {}
        self.training: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}  # unknown top-level keys, written back on save
        self.path: str | None = None  # where it was loaded from; not saved
        # Trained state, filled by a trainer or by opening a bundle; never in the JSON.
        self.weights: dict[str, dict[str, Any]] = {}  # network -> state_dict (tensors)
        self.metrics: dict[str, Any] = {}  # final metrics and curves of the last run
        self.train_state: dict[str, Any] = {}  # optimizer states and counters, for resume
        self.changed = Event()  # () after any edit to any network or the training setup
        self.training_changed = Event()  # (key)
        self.networks_changed = Event()  # () a network was added or removed
        BlockHolder.__init__(self)

    def network(self, name: str = "main") -> Network:
        try:
            return self.networks[name]
        except KeyError:
            known = ", ".join(self.networks) or "none"
            raise EditError(f"no network '{name}' in this document (it has: {known})") from None

    def add_network(self, name: str = "main") -> Network:
        if not IDENTIFIER.fullmatch(name):
            raise EditError(f"network name '{name}' must be a Python identifier")
        if name in self.networks:
            raise EditError(f"a network '{name}' already exists")
        network = Network(name)
        network.context = self
        network.changed.sub(self.changed.emit)
        self.networks[name] = network
        self.networks_changed.emit()
        self.changed.emit()
        return network

    def set_training(self, key: str, value: Any) -> Any:
        """Set one training-setup key (None removes it); returns the old value."""
        old = self.training.get(key)
        if value is None:
            self.training.pop(key, None)
        else:
            self.training[key] = copy.deepcopy(value)
        self.training_changed.emit(key)
        self.changed.emit()
        return old

    def copy(self, with_state: bool = False) -> Document:
        """An independent copy with no subscribers, equal to this one in the file format.

        A run trains a copy so the worker never shares objects with the editor;
        an export writes a copy so later edits cannot change what is written.
        `with_state` also copies the trained weights, metrics and resume state.
        """
        twin = Document(self.name, self.description)
        for name in self.blocks:  # all names first: a definition may use a later one
            twin.add_block(name)
        for name, definition in self.blocks.items():
            copy_network(definition, twin.blocks[name])
        for name, network in self.networks.items():
            copy_network(network, twin.add_network(name))
        twin.training = copy.deepcopy(self.training)
        twin.extra = copy.deepcopy(self.extra)
        twin.path = self.path
        if with_state:
            twin.weights = copy.deepcopy(self.weights)
            twin.metrics = copy.deepcopy(self.metrics)
            twin.train_state = copy.deepcopy(self.train_state)
        return twin

    def can_resume(self) -> bool:
        """A trained document whose run stopped before its planned epochs (or episodes).

        RL tasks plan `training.<task>.episodes` when it is given, else `epochs`,
        as the episodic trainers do.
        """
        done = int(self.train_state.get("epoch", 0)) if self.train_state else 0
        task = self.training.get("task")
        section = self.training.get(task) if isinstance(task, str) else None
        planned = self.training.get("epochs", 0)
        if task in ("dqn", "q_learning") and isinstance(section, dict) and "episodes" in section:
            planned = section["episodes"]
        try:
            return bool(self.train_state) and done < int(planned)
        except (TypeError, ValueError):
            return False


def copy_network(source: Network, target: Network) -> None:
    """Fill the empty `target` with copies of `source`'s nodes, edges, doc and exposed params."""
    target.extra = copy.deepcopy(source.extra)
    target.doc = source.doc
    target.exposed = copy.deepcopy(source.exposed)
    for node in source.nodes.values():
        target.add_node(node.block, copy.deepcopy(node.params), node.pos, node.id,
                        copy.deepcopy(node.extra))
    for edge in source.edges:
        target.add_edge(Edge(edge.src, edge.src_port, edge.dst, edge.dst_port,
                             copy.deepcopy(edge.extra)))
