"""Blocks that join branches: Add (residuals), Multiply (gates), Concat."""

from __future__ import annotations

from engine.blocks.base import OUT, BlockSpec, Param, Params, Port, Shape, Shapes, fmt_shape
from engine.blocks.lazy import modules
from engine.errors import ShapeError

MERGE_INPUTS = (Port("a"), Port("b"))


def _ordered(s: Shapes) -> list[tuple[str, Shape]]:
    return sorted(s.items())


def broadcast(name: str, s: Shapes) -> dict[str, Shape]:
    """PyTorch's broadcasting, refusing a batch axis against a fixed size."""
    shapes = _ordered(s)
    rank = max(len(shape) for _, shape in shapes)
    result: list[int | None] = []
    for axis in range(-rank, 0):
        sizes = {shape[axis] for _, shape in shapes if len(shape) >= -axis} - {1}
        if len(sizes) > 1:
            listed = ", ".join(f"{port}: {fmt_shape(shape)}" for port, shape in shapes)
            raise ShapeError(f"{name} needs matching shapes, got {listed}")
        result.append(sizes.pop() if sizes else 1)
    return {"out": tuple(result)}


def _concat_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    shapes = _ordered(s)
    rank = len(shapes[0][1])
    listed = ", ".join(f"{port}: {fmt_shape(shape)}" for port, shape in shapes)
    if any(len(shape) != rank for _, shape in shapes):
        raise ShapeError(f"Concat needs inputs of one rank, got {listed}")
    if not -rank <= p["dim"] < rank:
        raise ShapeError(f"dim {p['dim']} is out of range for rank {rank}")
    dim = p["dim"] % rank
    for axis in range(rank):
        if axis != dim and len({shape[axis] for _, shape in shapes}) > 1:
            raise ShapeError(f"Concat along dim {p['dim']} needs the other axes equal, got {listed}")
    sizes = [shape[dim] for _, shape in shapes]
    if None in sizes:
        # N + N samples is not N: every shape after this would be wrong.
        raise ShapeError(f"Concat along dim {p['dim']} would join the batch axis N; "
                         f"pick another dim, got {listed}")
    return {"out": shapes[0][1][:dim] + (sum(sizes),) + shapes[0][1][dim + 1 :]}


BLOCKS = (
    BlockSpec(
        name="Add", category="Merge", doc="Element-wise sum of a, b, ... (a residual connection).",
        inputs=MERGE_INPUTS, outputs=OUT, params=(), variadic=True,
        infer=lambda p, s: broadcast("Add", s), build=lambda p, s: modules.Add(),
    ),
    BlockSpec(
        name="Multiply", category="Merge", doc="Element-wise product of a, b, ... (a gate).",
        inputs=MERGE_INPUTS, outputs=OUT, params=(), variadic=True,
        infer=lambda p, s: broadcast("Multiply", s), build=lambda p, s: modules.Multiply(),
    ),
    BlockSpec(
        name="Concat", category="Merge", doc="Joins a, b, ... along dim (1 is channels/features).",
        inputs=MERGE_INPUTS, outputs=OUT, variadic=True,
        params=(Param("dim", "int", 1, "Axis to join along.", min=-8, max=8),),
        infer=_concat_shape, build=lambda p, s: modules.Concat(p["dim"]), key_params=("dim",),
    ),
)
