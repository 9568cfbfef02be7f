"""Inputs, outputs and the everyday layers: Linear, Flatten, Reshape, Dropout, norms."""

from __future__ import annotations

import math

from engine.blocks.base import (
    IN,
    OUT,
    BlockSpec,
    Param,
    Params,
    Port,
    Shape,
    Shapes,
    fmt_shape,
    need_rank,
    numel,
    same,
)
from engine.blocks.lazy import modules, nn
from engine.errors import ShapeError


def _input_shape(params: Params, shapes: Shapes) -> dict[str, Shape]:
    if params["shape"]:
        per_sample = tuple(params["shape"])
        if any(d < 1 for d in per_sample):
            raise ShapeError(f"shape sizes must be positive, got {list(per_sample)}")
        return {"out": ((None,) + per_sample) if params["batched"] else per_sample}
    if "dataset" in shapes:
        return {"out": shapes["dataset"]}
    raise ShapeError(
        f"no shape for source '{params['source']}': the training dataset does not provide it; "
        "set the Input's shape parameter"
    )


INPUT = BlockSpec(
    name="Input",
    category="Input/Output",
    doc="Where data enters: takes its shape from the training dataset, or from `shape`.",
    inputs=(),
    outputs=OUT,
    params=(
        Param("source", "str", "x", "Which field of the dataset feeds this input (x, noise, adjacency, features)."),
        Param("shape", "ints", [], "Per-sample shape when no dataset provides one, e.g. [1, 28, 28]."),
        Param("batched", "bool", True, "Prepend the batch axis N to `shape` (off for a whole graph)."),
    ),
    infer=_input_shape,
    key_params=("source", "shape"),
)

OUTPUT = BlockSpec(
    name="Output",
    category="Input/Output",
    doc="What the network returns; the trainer compares it with the target.",
    inputs=IN,
    outputs=(),
    params=(),
    infer=lambda params, shapes: {},
)


def _linear_shape(params: Params, shapes: Shapes) -> dict[str, Shape]:
    x = shapes["in"]
    if len(x) < 1 or x[-1] is None:
        raise ShapeError(f"Linear needs a known feature axis last, got {fmt_shape(x)}")
    return {"out": x[:-1] + (params["out_features"],)}


def _linear_warnings(params: Params, shapes: Shapes) -> list[str]:
    if len(shapes["in"]) >= 4:
        return [
            f"Linear acts on the last axis of a {len(shapes['in'])}-D tensor "
            f"({fmt_shape(shapes['in'])}); a Flatten before it is probably missing"
        ]
    return []


LINEAR = BlockSpec(
    name="Linear",
    category="Core",
    doc="Fully connected layer y = x Wᵀ + b over the last axis; in_features is inferred.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("out_features", "int", 64, "Width of the output.", min=1, max=1_000_000),
        Param("bias", "bool", True, "Learn an additive bias."),
    ),
    infer=_linear_shape,
    build=lambda p, s: nn.Linear(s["in"][-1], p["out_features"], bias=p["bias"]),
    key_params=("out_features",),
    macs=lambda p, s, o: numel(o["out"]) * s["in"][-1],
    warnings=_linear_warnings,
)


def _flatten_shape(params: Params, shapes: Shapes) -> dict[str, Shape]:
    x = shapes["in"]
    rank = len(x)
    start = params["start_dim"] % rank if rank else 0
    end = params["end_dim"] % rank if rank else 0
    if not (-rank <= params["start_dim"] < rank and -rank <= params["end_dim"] < rank):
        raise ShapeError(f"Flatten dims out of range for a {rank}-D input {fmt_shape(x)}")
    if start > end:
        raise ShapeError("Flatten's start_dim comes after its end_dim")
    middle = x[start : end + 1]
    if None in middle and any(d != 1 for d in middle if d is not None):
        # N·k is not N: every shape after this would be wrong.
        raise ShapeError(f"Flatten({params['start_dim']}, {params['end_dim']}) would merge the batch "
                         f"axis N of {fmt_shape(x)} with other axes; leave N out of start_dim..end_dim")
    flat = None if None in middle else math.prod(middle)
    return {"out": x[:start] + (flat,) + x[end + 1 :]}


FLATTEN = BlockSpec(
    name="Flatten",
    category="Core",
    doc="Joins axes start_dim..end_dim into one, e.g. N×50×4×4 -> N×800.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("start_dim", "int", 1, "First axis to join (0 is the batch).", min=-8, max=8),
        Param("end_dim", "int", -1, "Last axis to join.", min=-8, max=8),
    ),
    infer=_flatten_shape,
    build=lambda p, s: nn.Flatten(p["start_dim"], p["end_dim"]),
)


def _reshape_shape(params: Params, shapes: Shapes) -> dict[str, Shape]:
    target = list(params["shape"])
    if None in shapes["in"][1:]:
        raise ShapeError(f"Reshape keeps axis 0 as the batch, but {fmt_shape(shapes['in'])} has N "
                         "elsewhere")
    if not target:
        raise ShapeError("Reshape needs a target shape, e.g. [1, 28, 28]")
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError(f"Reshape's shape may hold one -1 and positive sizes, got {target}")
    total = numel(shapes["in"][1:])
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise ShapeError(f"cannot reshape {fmt_shape(shapes['in'])} into N×{target}")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeError(
            f"cannot reshape {fmt_shape(shapes['in'])} ({total} values per sample) "
            f"into N×{'×'.join(map(str, target))} ({known})"
        )
    return {"out": (shapes["in"][0],) + tuple(target)}


RESHAPE = BlockSpec(
    name="Reshape",
    category="Core",
    doc="Reshapes each sample, keeping the batch axis; one entry may be -1.",
    inputs=IN,
    outputs=OUT,
    params=(Param("shape", "ints", [-1], "Per-sample target shape, e.g. [1, 28, 28]."),),
    infer=_reshape_shape,
    build=lambda p, s: modules.Reshape(list(p["shape"])),
    key_params=("shape",),
)

DROPOUT = BlockSpec(
    name="Dropout",
    category="Core",
    doc="Zeroes each value with probability p while training (a regulariser).",
    inputs=IN,
    outputs=OUT,
    params=(Param("p", "float", 0.5, "Probability of dropping a value.", min=0.0, max=1.0),),
    infer=same,
    build=lambda p, s: nn.Dropout(p["p"]),
    key_params=("p",),
)


def _batchnorm(name: str, ranks: tuple[int, ...], layout: str, cls: type[nn.Module]):
    def infer(params: Params, shapes: Shapes) -> dict[str, Shape]:
        x = shapes["in"]
        need_rank(name, x, ranks, layout)
        if x[1] is None:
            raise ShapeError(f"{name} normalises each channel (axis 1), but {fmt_shape(x)} has "
                             "the batch N there")
        if None not in x and numel(x[:1] + x[2:]) == 1:
            # Training statistics over a single value per channel are undefined.
            raise ShapeError(f"{name} needs more than one value per channel, but {fmt_shape(x)} "
                             "is one unbatched sample; give it a batch axis N (Input batched)")
        return {"out": x}

    return BlockSpec(
        name=name,
        category="Normalization",
        doc=f"Normalises each channel over the batch ({layout}); num_features is inferred.",
        inputs=IN,
        outputs=OUT,
        params=(
            # PyTorch refuses eps = 0 in training: the variance of a constant channel is 0.
            Param("eps", "float", 1e-5, "Added to the variance for stability.", min=1e-12, max=1.0),
            Param("momentum", "float", 0.1, "Weight of the running statistics' update.", min=0.0, max=1.0),
        ),
        infer=infer,
        build=lambda p, s: cls(s["in"][1], eps=p["eps"], momentum=p["momentum"]),
    )


BATCHNORM1D = _batchnorm("BatchNorm1d", (2, 3), "N×C or N×C×L", nn.BatchNorm1d)
BATCHNORM2D = _batchnorm("BatchNorm2d", (4,), "N×C×H×W", nn.BatchNorm2d)

def _layer_norm_shape(params: Params, shapes: Shapes) -> dict[str, Shape]:
    x = shapes["in"]
    if len(x) < 2 or x[-1] is None:  # normalized_shape is the last axis: it must be a feature axis
        raise ShapeError(f"LayerNorm needs a known feature axis last, got {fmt_shape(x)}")
    return {"out": x}


LAYERNORM = BlockSpec(
    name="LayerNorm",
    category="Normalization",
    doc="Normalises the last axis of each sample; normalized_shape is inferred.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("eps", "float", 1e-5, "Added to the variance for stability.", min=0.0, max=1.0),
        Param("elementwise_affine", "bool", True, "Learn a scale and shift."),
    ),
    infer=_layer_norm_shape,
    build=lambda p, s: nn.LayerNorm(
        s["in"][-1], eps=p["eps"], elementwise_affine=p["elementwise_affine"]
    ),
)

EMBEDDING = BlockSpec(
    name="Embedding",
    category="Sequence",
    doc="Looks up a learned vector for each integer token: N×T -> N×T×embedding_dim.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("num_embeddings", "int", 16, "Vocabulary size: tokens are 0..num_embeddings-1.", min=1, max=10_000_000),
        Param("embedding_dim", "int", 32, "Length of each token's vector.", min=1, max=100_000),
    ),
    infer=lambda p, s: {"out": s["in"] + (p["embedding_dim"],)},
    build=lambda p, s: nn.Embedding(p["num_embeddings"], p["embedding_dim"]),
    count=lambda p, s: p["num_embeddings"] * p["embedding_dim"],
    key_params=("num_embeddings", "embedding_dim"),
)

BLOCKS = (INPUT, OUTPUT, LINEAR, FLATTEN, RESHAPE, DROPOUT, BATCHNORM1D, BATCHNORM2D,
          LAYERNORM, EMBEDDING)

__all__ = ["BLOCKS", "Port"]
