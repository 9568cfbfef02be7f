"""Group a selection into a composite, and ungroup a composite node back into blocks.

Both are computed first and applied by `Regroup.redo()`, so the editor can push
them on its undo stack as they are (QUndoStack.push calls redo) and a script
calls `group(...).redo()`. Every change goes through `Network`/`Document`
methods, so each view hears its events; `undo()` puts back the same node
objects at their old places in the file order, the old edge order and the
document's `blocks`, so the saved record is exactly the one before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.composites.holder import block_name_problem
from engine.composites.spec import definition_of, overrides_for
from engine.document import Edge, Network, Node
from engine.errors import EditError

if TYPE_CHECKING:
    from engine.document import Document

PORT_BLOCKS = ("Input", "Output")
COPY_GAP = 120.0  # horizontal room between the copies an ungroup lays out


@dataclass
class Regroup:
    """One undoable replacement of nodes by others in a network (group or ungroup)."""

    doc: Document
    network: str
    removed: list[tuple[int, Node]]  # what redo takes away, with its place in the file order
    added: list[tuple[int, Node]]  # what redo puts in
    edges_before: list[Edge]
    edges_after: list[Edge]
    block: Network | None = None  # the definition a group adds to doc.blocks
    applied: bool = field(default=False, compare=False)

    @property
    def node_ids(self) -> list[str]:
        """The ids of the nodes redo puts in (the composite node, or the inlined blocks)."""
        return [node.id for _, node in self.added]

    def redo(self) -> None:
        """Apply (a no-op when already applied)."""
        if self.applied:
            return
        if self.block is not None:
            self.doc.add_block(self.block.name, self.block)
        self._swap(self.removed, self.added, self.edges_after)
        self.applied = True

    def undo(self) -> None:
        """Restore the document exactly as it was before redo (a no-op when not applied)."""
        if not self.applied:
            return
        self._swap(self.added, self.removed, self.edges_before)
        if self.block is not None:
            self.doc.remove_block(self.block.name)
        self.applied = False

    def _swap(self, take: list[tuple[int, Node]], put: list[tuple[int, Node]],
              edges: list[Edge]) -> None:
        net = self.doc.network(self.network)
        for _, node in take:
            net.remove_node(node.id)
        for index, node in sorted(put, key=lambda item: item[0]):
            net.restore_node(node, index)
        present = set(net.edges)
        for edge in edges:
            if edge not in present:
                net.add_edge(edge)
        net.reorder_edges(edges)


def suggest_block_name(doc: Document) -> str:
    """A free composite name: `Block1`, `Block2`, ..."""
    n = 1
    while block_name_problem(f"Block{n}", doc.blocks) or doc.definition(f"Block{n}"):
        n += 1
    return f"Block{n}"


# ---- group --------------------------------------------------------------------------


def group(doc: Document, network: str, node_ids: list[str], block_name: str,
          pos: tuple[float, float] | None = None) -> Regroup:
    """Replace the selected nodes by one node of a new composite `block_name` (not applied).

    Edges entering the selection become input ports (one per distinct outer source),
    edges leaving it output ports; EditError says why a selection cannot be grouped.
    """
    net = doc.network(network)
    selected = _selection(doc, net, node_ids, block_name)
    ins = list(dict.fromkeys((e.src, e.src_port) for e in net.edges
                             if e.dst in selected and e.src not in selected))
    outs = list(dict.fromkeys((e.src, e.src_port) for e in net.edges
                              if e.src in selected and e.dst not in selected))
    port_in = dict(zip(ins, _port_ids("in", len(ins), selected), strict=True))
    port_of = dict(zip(outs, _port_ids("out", len(outs), selected), strict=True))
    definition = _definition(net, selected, port_in, port_of, block_name)
    place = pos or _centre([net.nodes[n].pos for n in selected])
    node = Node(net.unique_id(block_name), block_name, {}, (float(place[0]), float(place[1])))
    wired = [Edge(s, sp, node.id, port) for (s, sp), port in port_in.items()]
    kept = [e for e in net.edges if e.src not in selected and e.dst not in selected]
    leaving = [Edge(node.id, port_of[(e.src, e.src_port)], e.dst, e.dst_port, e.extra)
               for e in net.edges if e.src in selected and e.dst not in selected]
    index = {n: i for i, n in enumerate(net.nodes)}
    return Regroup(doc, network, [(index[n], net.nodes[n]) for n in selected],
                   [(min(index[n] for n in selected), node)], list(net.edges),
                   kept + wired + leaving, definition)


def _selection(doc: Document, net: Network, node_ids: list[str], block_name: str) -> list[str]:
    """The selected ids in file order, after refusing what cannot be grouped."""
    problem = block_name_problem(block_name, doc.blocks)
    if problem:
        raise EditError(problem)
    for node_id in node_ids:
        net.node(node_id)
    selected = [n for n in net.nodes if n in set(node_ids)]
    if not selected:
        raise EditError("select the blocks to group first")
    ports = [n for n in selected if net.nodes[n].block in PORT_BLOCKS]
    if ports:
        raise EditError(f"Input and Output blocks cannot go into a group: {', '.join(ports)}")
    cycle = _cycle_through_group(net, set(selected))
    if cycle:
        raise EditError(f"grouping these blocks would make a cycle through the group via {cycle}")
    return selected


def _cycle_through_group(net: Network, selected: set[str]) -> str | None:
    """An outside node on a path that leaves the selection and comes back into it."""
    stack = [e.dst for e in net.edges if e.src in selected and e.dst not in selected]
    seen = set(stack)
    while stack:
        node_id = stack.pop()
        for e in net.outgoing(node_id):
            if e.dst in selected:
                return node_id
            if e.dst not in seen:
                seen.add(e.dst)
                stack.append(e.dst)
    return None


def _port_ids(base: str, count: int, taken: list[str]) -> list[str]:
    """`in` for a single port, else `in_1`, `in_2`, ...; never an id the selection has."""
    names = []
    for name in [base] if count == 1 else [f"{base}_{k + 1}" for k in range(count)]:
        while name in taken:
            name += "_"
        names.append(name)
    return names


def _definition(net: Network, selected: list[str], in_ports: dict, out_ports: dict,
                name: str) -> Network:
    """The new composite's network: port Inputs, copies of the selection, port Outputs."""
    definition = Network(name)
    definition.context = net.context  # the selection may hold the document's own composites
    xs = [net.nodes[n].pos[0] for n in selected]
    ys = [net.nodes[n].pos[1] for n in selected]
    for k, port in enumerate(in_ports.values()):
        definition.add_node("Input", {}, (min(xs) - 220, min(ys) + 120 * k), port)
    for node_id in selected:
        node = net.nodes[node_id]
        definition.add_node(node.block, dict(node.params), node.pos, node.id, dict(node.extra))
    for k, port in enumerate(out_ports.values()):
        definition.add_node("Output", {}, (max(xs) + 220, min(ys) + 120 * k), port)
    chosen = set(selected)
    for e in net.edges:
        if e.src in chosen and e.dst in chosen:
            definition.add_edge(Edge(e.src, e.src_port, e.dst, e.dst_port, e.extra))
        elif e.dst in chosen:
            definition.add_edge(Edge(in_ports[(e.src, e.src_port)], "out", e.dst, e.dst_port, e.extra))
    for (src, src_port), port in out_ports.items():
        definition.add_edge(Edge(src, src_port, port, "in"))
    return definition


def _centre(points: list[tuple[float, float]]) -> tuple[float, float]:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


# ---- ungroup ------------------------------------------------------------------------


def ungroup(doc: Document, network: str, node_id: str) -> Regroup:
    """Replace a composite node by its definition's blocks, N copies for repeat N (not applied).

    The inlined blocks take the node's exposed values and fresh ids; the
    definition stays in `doc.blocks` (other nodes may use it).
    """
    net = doc.network(network)
    node = net.node(node_id)
    definition = definition_of(doc, node.block) if doc.definition(node.block) else None
    if definition is None:
        raise EditError(f"{node_id} ({node.block}) is not a composite block")
    params = node.resolved_params()
    inliner = _Inliner(net, node, definition, overrides_for(definition, params))
    for copy in range(params["repeat"]):
        inliner.inline(copy, params["repeat"])
    index = list(net.nodes).index(node_id)
    kept = [e for e in net.edges if node_id not in (e.src, e.dst)]
    return Regroup(doc, network, [(index, node)],
                   [(index + k, n) for k, n in enumerate(inliner.nodes)], list(net.edges),
                   kept + inliner.edges + inliner.leaving())


class _Inliner:
    """Copies of a definition's blocks for the outer network, wired as the node was."""

    def __init__(self, net: Network, node: Node, definition: Network, overrides: dict) -> None:
        self.net, self.node, self.definition, self.overrides = net, node, definition, overrides
        self.inner = [n for n in definition.nodes.values() if n.block not in PORT_BLOCKS]
        self.taken = set(net.nodes) - {node.id}
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.ids: list[dict[str, str]] = []  # per copy: inner id -> outer id
        xs = [n.pos[0] for n in self.inner] or [0.0]
        self.left, self.width = min(xs), max(xs) - min(xs) + COPY_GAP

    def inline(self, copy: int, copies: int) -> None:
        ids = {}
        for inner in self.inner:
            ids[inner.id] = self._fresh(inner.id if copies == 1 else f"{inner.id}_{copy + 1}")
            x = self.node.pos[0] + inner.pos[0] - self.left + copy * self.width
            params = {**inner.params, **self.overrides.get(inner.id, {})}
            self.nodes.append(Node(ids[inner.id], inner.block, params,
                                   (x, self.node.pos[1] + inner.pos[1]), dict(inner.extra)))
        self.ids.append(ids)
        for e in self.definition.edges:
            if e.dst in ids:
                source = self._source(copy, e.src, e.src_port)
                if source is not None:
                    self.edges.append(Edge(*source, ids[e.dst], e.dst_port, e.extra))

    def _source(self, copy: int, src: str, port: str) -> tuple[str, str] | None:
        """The outer (node, port) feeding inner output `src.port` of copy `copy`."""
        if self.definition.nodes[src].block != "Input":
            return self.ids[copy][src], port
        if copy == 0:
            edge = self.net.incoming(self.node.id).get(src)
            return (edge.src, edge.src_port) if edge else None
        (out_edge,) = self.definition.incoming(self.definition_outputs()[0]).values()
        return self._source(copy - 1, out_edge.src, out_edge.src_port)

    def definition_outputs(self) -> list[str]:
        return [n.id for n in self.definition.nodes.values() if n.block == "Output"]

    def leaving(self) -> list[Edge]:
        """The node's outgoing edges, now from the last copy's blocks."""
        edges = []
        for e in self.net.outgoing(self.node.id):
            into = self.definition.incoming(e.src_port).get("in")
            source = self._source(len(self.ids) - 1, into.src, into.src_port) if into else None
            if source is not None:
                edges.append(Edge(*source, e.dst, e.dst_port, e.extra))
        return edges

    def _fresh(self, wanted: str) -> str:
        name, n = wanted, 1
        while name in self.taken:
            n += 1
            name = f"{wanted}_{n}"
        self.taken.add(name)
        return name
