"""Graph attention per edge, as the feature-map view draws it: edges, weights, a layout.

A GATConv's output is a V×F matrix like any other, but what a person wants to
see while it trains is whom each node listens to. The layer keeps its last
attention per edge (`GATConv.last_attention`); `edge_attention` copies the
first graph's edges and weights into numpy, safe to cross threads, in place
of the output. Where to put the nodes is the view's concern, computed once per
graph with networkx (`graph_layout`) off the GUI thread: a spring layout of
Cora's 2,708 nodes takes seconds.

This module imports neither torch nor networkx until they are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class EdgeAttention:
    """One graph's attention: edge e is node `sources[e]` weighing neighbour `targets[e]`."""

    nodes: int
    sources: np.ndarray  # (E,) int64: the attending node i
    targets: np.ndarray  # (E,) int64: the neighbour j it weighs (j == i: its self loop)
    weights: np.ndarray  # (H, E) float32: α_ij per head; each node's weights sum to 1

    @property
    def heads(self) -> int:
        return int(self.weights.shape[0])

    def key(self) -> tuple[int, int, int]:
        """Identifies the graph (not the weights): a layout made for one key fits every capture."""
        edges = np.stack([self.sources, self.targets])
        return self.nodes, len(self.sources), hash(edges.tobytes())

    def mean(self) -> np.ndarray:
        """(E,) the weights averaged over the heads."""
        return self.weights.mean(axis=0)

    def describe(self) -> str:
        links = int((self.sources != self.targets).sum())
        heads = f"mean of {self.heads} heads" if self.heads > 1 else "1 head"
        return f"{self.nodes} nodes, {links} directed edges, {heads}"


def edge_attention(kept: tuple[Any, Any], nodes: int) -> EdgeAttention:
    """`GATConv.last_attention` (edge index (E, 2), or (E, 3) with the graph first; weights
    (E, H)) -> the first graph's `EdgeAttention`, copied off the device."""
    index, weights = kept
    if index.shape[1] == 3:  # a batch of graphs: the first, as other activations show sample 0
        first = index[:, 0] == 0
        index, weights = index[first][:, 1:], weights[first]
    index = index.detach().cpu().numpy().astype(np.int64)
    values = weights.detach().float().cpu().numpy().T.copy()  # (H, E)
    return EdgeAttention(nodes, index[:, 0].copy(), index[:, 1].copy(), values)


def graph_layout(attention: EdgeAttention, seed: int = 0) -> np.ndarray:
    """(V, 2) node positions in [-1, 1]: networkx's spring layout of the undirected graph."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(attention.nodes))
    graph.add_edges_from((int(i), int(j)) for i, j in zip(attention.sources, attention.targets,
                                                           strict=True) if i != j)
    positions = nx.spring_layout(graph, seed=seed)
    return np.array([positions[v] for v in range(attention.nodes)], dtype=np.float32).reshape(-1, 2)
