"""Graph neural network layers: a node-feature matrix plus an adjacency matrix."""

from __future__ import annotations

from engine.blocks.base import OUT, BlockSpec, Param, Params, Port, Shape, Shapes, fmt_shape
from engine.blocks.lazy import modules
from engine.errors import ShapeError


def _graph_conv_shape(p: Params, s: Shapes) -> dict[str, Shape]:
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
    return {"out": x[:-1] + (p["out_features"],)}


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

BLOCKS = (GRAPH_CONV,)
