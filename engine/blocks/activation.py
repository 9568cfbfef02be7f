"""Element-wise non-linearities, including the perceptron's Step."""

from __future__ import annotations

from engine.blocks.base import IN, OUT, BlockSpec, Param, Params, Shape, Shapes, fmt_shape, same
from engine.blocks.lazy import modules, nn
from engine.errors import ShapeError


def _activation(name: str, doc: str, build, params: tuple[Param, ...] = ()) -> BlockSpec:
    return BlockSpec(
        name=name, category="Activation", doc=doc, inputs=IN, outputs=OUT,
        params=params, infer=same, build=build,
        key_params=tuple(p.name for p in params),
    )


def _softmax_shape(params: Params, shapes: Shapes) -> dict[str, Shape]:
    x = shapes["in"]
    if not -len(x) <= params["dim"] < len(x):
        raise ShapeError(f"dim {params['dim']} is out of range for {fmt_shape(x)}")
    return {"out": x}


def _softmax(name: str, doc: str, cls: type[nn.Module]) -> BlockSpec:
    return BlockSpec(
        name=name, category="Activation", doc=doc, inputs=IN, outputs=OUT,
        params=(Param("dim", "int", -1, "Axis whose values sum to one.", min=-8, max=8),),
        infer=_softmax_shape, build=lambda p, s: cls(dim=p["dim"]), key_params=("dim",),
    )


BLOCKS = (
    _activation("ReLU", "max(0, x): the default hidden activation.", lambda p, s: nn.ReLU()),
    _activation(
        "LeakyReLU", "x where positive, negative_slope·x elsewhere; keeps a gradient below zero.",
        lambda p, s: nn.LeakyReLU(p["negative_slope"]),
        (Param("negative_slope", "float", 0.01, "Slope for negative inputs.", min=0.0, max=1.0),),
    ),
    _activation("Sigmoid", "1 / (1 + e^-x): squashes into (0, 1).", lambda p, s: nn.Sigmoid()),
    _activation("Tanh", "Hyperbolic tangent: squashes into (-1, 1).", lambda p, s: nn.Tanh()),
    _activation("GELU", "Gaussian error linear unit, the Transformer's activation.", lambda p, s: nn.GELU()),
    _activation("Step", "Heaviside step (1 if x ≥ 0 else 0): the perceptron's activation.",
                lambda p, s: modules.Step()),
    _softmax("Softmax", "Turns scores into probabilities along dim.", nn.Softmax),
    _softmax("LogSoftmax", "Log of Softmax; pair it with the NLL loss.", nn.LogSoftmax),
)
