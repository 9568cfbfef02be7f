"""Auto-layout: left to right by topological depth, cards stacked without overlap.

Depth is the longest path from a source (networkx), so every edge points
right. Within a column nodes are ordered by the mean height of their
predecessors (one barycentre sweep), which removes most crossings in the
architectures people draw, and stacked using each card's real height.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.document import Network
from gui.editor.geometry import COLUMN, GRID, ROW_GAP

if TYPE_CHECKING:
    import networkx as nx


def depths(net: Network) -> dict[str, int]:
    """Longest-path depth of each node; edges that close a cycle are ignored."""
    import networkx as nx  # on use: opening the window never lays out (~0.2 s saved)

    graph = nx.DiGraph(net.graph())
    while not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        graph.remove_edge(*cycle[-1][:2])
    depth: dict[str, int] = {}
    for node in nx.lexicographical_topological_sort(graph, key=list(net.nodes).index):
        preds = list(graph.predecessors(node))
        depth[node] = max((depth[p] + 1 for p in preds), default=0)
    return depth


def auto_layout(net: Network, height_of: Callable[[str], float],
                ) -> dict[str, tuple[float, float]]:
    """New document positions for every node; `height_of` gives card heights in doc units.

    Each card wants the mean top of its predecessors (so chains come out
    straight); cards of a column are then pushed apart until none overlap.
    """
    if not net.nodes:
        return {}
    depth = depths(net)
    columns: dict[int, list[str]] = {}
    for node_id in net.nodes:
        columns.setdefault(depth[node_id], []).append(node_id)
    graph = net.graph()
    top: dict[str, float] = {}
    for col in sorted(columns):
        ids = columns[col]
        wanted = {n: _barycentre(n, graph, top) for n in ids}
        if col == 0 or all(w is None for w in wanted.values()):
            wanted = {n: i * 1e-6 for i, n in enumerate(ids)}
        ids.sort(key=lambda n: (wanted[n] is None, wanted[n] or 0.0))
        top.update(_stack(ids, {n: wanted[n] or 0.0 for n in ids}, height_of))
    return {n: (depth[n] * COLUMN, top[n]) for n in net.nodes}


def _stack(ids: list[str], wanted: dict[str, float], height_of: Callable[[str], float],
           ) -> dict[str, float]:
    """Tops as close to `wanted` as possible with `ROW_GAP` between cards, on the grid."""
    tops: dict[str, float] = {}
    bottom = None
    for node_id in ids:
        y = wanted[node_id] if bottom is None else max(wanted[node_id], bottom + ROW_GAP)
        y = round(y / GRID) * GRID
        if bottom is not None and y < bottom + ROW_GAP:
            y += GRID
        tops[node_id] = y
        bottom = y + height_of(node_id)
    shift = sum(tops[n] - wanted[n] for n in ids) / len(ids)
    shift = round(shift / GRID) * GRID
    return {n: t - shift for n, t in tops.items()}


def _barycentre(node_id: str, graph: nx.MultiDiGraph, top: dict[str, float]) -> float | None:
    ys = [top[p] for p in graph.predecessors(node_id) if p in top]
    return sum(ys) / len(ys) if ys else None
