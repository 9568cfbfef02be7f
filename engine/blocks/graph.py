"""Graph neural network layers: a node-feature matrix plus an adjacency matrix."""

from __future__ import annotations

from engine.blocks.base import OUT, BlockSpec, Param, Params, Port, Shape, Shapes, fmt_shape
from engine.blocks.lazy import modules
from engine.errors import ShapeError


def _graph_inputs(s: Shapes) -> Shape:
    """The node features, once they are known to match the adjacency (shared by every graph layer)."""
    a, x = s["adjacency"], s["features"]
    if len(a) not in (2, 3) or a[-1] != a[-2]:
        raise ShapeError(f"adjacency must be a square V×V (or N×V×V) matrix, got {fmt_shape(a)}")
    if len(x) != len(a) or x[-2] != a[-1]:
        raise ShapeError(
            f"features {fmt_shape(x)} do not match adjacency {fmt_shape(a)}: expected V×F"
        )
    if len(a) == 3 and a[0] != x[0]:
        # A fixed number of graphs against a batch N (or two different counts) would
        # broadcast to one or the other at run time, never to what the edges show.
        raise ShapeError(f"adjacency {fmt_shape(a)} and features {fmt_shape(x)} differ in their "
                         "leading axis: batch both (N×V×V with N×V×F) or neither")
    return x


def _graph_conv_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    x = _graph_inputs(s)
    return {"out": x[:-1] + (p["out_features"],)}


def _gat_width(p: Params) -> int:
    return p["out_features"] * p["heads"] if p["concat"] else p["out_features"]


def _gat_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    x = _graph_inputs(s)
    return {"out": x[:-1] + (_gat_width(p),)}


def _gat_macs(p: Params, s: Shapes, o: Shapes) -> int:
    """Dense upper bound, as GraphConv counts: every node attends over all V (a graph has fewer)."""
    nodes, width = s["features"][-2] or 1, p["out_features"] * p["heads"]
    return nodes * (s["features"][-1] * width + 2 * width + (s["adjacency"][-1] or 1) * width)


GRAPH_CONV = BlockSpec(
    name="GraphConv",
    category="Graph",
    doc="Graph convolution Â·(X·W): transform each node, then average over its neighbours.",
    inputs=(Port("adjacency", "V×V adjacency matrix"), Port("features", "V×F node features")),
    outputs=OUT,
    params=(
        Param("out_features", "int", 16, "Width of each node's output.", min=1, max=1_000_000),
        Param("bias", "bool", True, "Learn an additive bias."),
        Param("normalize", "bool", True, "Use D^-½(A+I)D^-½ instead of the raw adjacency."),
    ),
    infer=_graph_conv_shape,
    build=lambda p, s: modules.GraphConv(
        s["features"][-1], p["out_features"], bias=p["bias"], normalize=p["normalize"]
    ),
    key_params=("out_features",),
    macs=lambda p, s, o: (s["features"][-2] or 1)
    * (s["features"][-1] * p["out_features"] + (s["adjacency"][-1] or 1) * p["out_features"]),
)

GAT_CONV = BlockSpec(
    name="GATConv",
    category="Graph",
    doc="Graph attention (Veličković et al., 2018): each node weighs its neighbours by learned "
        "attention, per head, instead of by degree. Heads are concatenated (or averaged); the "
        "Training view shows the attention on every edge.",
    inputs=(Port("adjacency", "V×V adjacency matrix; its non-zero entries are the edges"),
            Port("features", "V×F node features")),
    outputs=(Port("out", "V×(heads·out_features), or V×out_features when averaged"),),
    params=(
        Param("out_features", "int", 8, "Width of each head's output per node.",
              min=1, max=1_000_000),
        Param("heads", "int", 1, "Independent attention heads.", min=1, max=1024),
        Param("concat", "bool", True, "Concatenate the heads' outputs; off: average them "
              "(the paper's output layer)."),
        Param("negative_slope", "float", 0.2, "LeakyReLU slope inside the attention score.",
              min=0.0, max=1.0),
        Param("dropout", "float", 0.0, "Dropout on the attention weights while training "
              "(0.6 in the paper).", min=0.0, max=1.0),
        Param("add_self_loops", "bool", True, "Each node also attends to itself."),
        Param("bias", "bool", True, "Learn an additive bias."),
    ),
    infer=_gat_shape,
    build=lambda p, s: modules.GATConv(
        s["features"][-1], p["out_features"], heads=p["heads"], concat=p["concat"],
        negative_slope=p["negative_slope"], dropout=p["dropout"],
        add_self_loops=p["add_self_loops"], bias=p["bias"],
    ),
    key_params=("heads", "out_features"),
    macs=_gat_macs,
)

BLOCKS = (GRAPH_CONV, GAT_CONV)
