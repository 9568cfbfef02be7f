"""Convolution, pooling and upsampling over images (N×C×H×W) and signals (N×C×L)."""

from __future__ import annotations

import math

from engine.blocks.base import (
    IN,
    OUT,
    BlockSpec,
    Param,
    Params,
    Shape,
    Shapes,
    conv_out,
    fmt_shape,
    need_rank,
    need_spatial,
    numel,
)
from engine.blocks.lazy import nn
from engine.errors import ShapeError


def _conv_params(default_out: int) -> tuple[Param, ...]:
    return (
        Param("out_channels", "int", default_out, "Number of filters (output channels).", min=1, max=100_000),
        Param("kernel_size", "int", 3, "Side of each square filter.", min=1, max=1024),
        Param("stride", "int", 1, "Step between filter positions.", min=1, max=1024),
        Param("padding", "int", 0, "Zeros added on every side.", min=0, max=1024),
        Param("dilation", "int", 1, "Spacing between filter taps.", min=1, max=1024),
        Param("bias", "bool", True, "Learn an additive bias per channel."),
    )


def _conv_shape(dims: int, name: str):
    layout = "N×C×L" if dims == 1 else "N×C×H×W"

    def infer(p: Params, s: Shapes) -> dict[str, Shape]:
        x = s["in"]
        need_rank(name, x, (dims + 2,), layout)
        need_spatial(name, x, layout)
        spatial = tuple(
            conv_out(d, p["kernel_size"], p["stride"], p["padding"], p["dilation"]) for d in x[2:]
        )
        return {"out": (x[0], p["out_channels"]) + spatial}

    return infer


def _conv_macs(p: Params, s: Shapes, o: Shapes) -> int:
    dims = len(s["in"]) - 2
    return numel(o["out"]) * s["in"][1] * p["kernel_size"] ** dims


def _conv(dims: int, cls: type[nn.Module]) -> BlockSpec:
    name = f"Conv{dims}d"
    return BlockSpec(
        name=name,
        category="Convolution",
        doc=f"{dims}-D convolution: slides learned filters over the input; in_channels is inferred.",
        inputs=IN,
        outputs=OUT,
        params=_conv_params(16),
        infer=_conv_shape(dims, name),
        build=lambda p, s: cls(
            s["in"][1], p["out_channels"], p["kernel_size"], stride=p["stride"],
            padding=p["padding"], dilation=p["dilation"], bias=p["bias"],
        ),
        key_params=("out_channels", "kernel_size", "stride", "padding"),
        macs=_conv_macs,
    )


def _conv_transpose_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    x = s["in"]
    need_rank("ConvTranspose2d", x, (4,), "N×C×H×W")
    need_spatial("ConvTranspose2d", x, "N×C×H×W")
    if p["output_padding"] >= max(p["stride"], p["dilation"]):
        raise ShapeError("output_padding must be smaller than stride or dilation")
    spatial = tuple(
        (d - 1) * p["stride"] - 2 * p["padding"]
        + p["dilation"] * (p["kernel_size"] - 1) + p["output_padding"] + 1
        for d in x[2:]
    )
    if any(d < 1 for d in spatial):
        raise ShapeError(f"padding {p['padding']} leaves no output")
    return {"out": (x[0], p["out_channels"]) + spatial}


CONV_TRANSPOSE2D = BlockSpec(
    name="ConvTranspose2d",
    category="Convolution",
    doc="Transposed ('de-') convolution: upsamples with learned filters; in_channels is inferred.",
    inputs=IN,
    outputs=OUT,
    params=_conv_params(16)[:4]
    + (Param("output_padding", "int", 0, "Extra size added to one side of the output.", min=0, max=1024),)
    + _conv_params(16)[4:],
    infer=_conv_transpose_shape,
    build=lambda p, s: nn.ConvTranspose2d(
        s["in"][1], p["out_channels"], p["kernel_size"], stride=p["stride"], padding=p["padding"],
        output_padding=p["output_padding"], dilation=p["dilation"], bias=p["bias"],
    ),
    key_params=("out_channels", "kernel_size", "stride"),
    macs=lambda p, s, o: numel(s["in"]) * p["out_channels"] * p["kernel_size"] ** 2,
)


def _pool_shape(name: str):
    def infer(p: Params, s: Shapes) -> dict[str, Shape]:
        x = s["in"]
        need_rank(name, x, (4,), "N×C×H×W")
        need_spatial(name, x, "N×C×H×W")
        if p["padding"] * 2 > p["kernel_size"]:
            raise ShapeError("padding must be at most half the kernel_size")
        stride = p["stride"] or p["kernel_size"]
        return {"out": x[:2] + tuple(conv_out(d, p["kernel_size"], stride, p["padding"]) for d in x[2:])}

    return infer


def _pool(name: str, doc: str, cls: type[nn.Module]) -> BlockSpec:
    return BlockSpec(
        name=name,
        category="Convolution",
        doc=doc,
        inputs=IN,
        outputs=OUT,
        params=(
            Param("kernel_size", "int", 2, "Side of each pooling window.", min=1, max=1024),
            Param("stride", "int", 0, "Step between windows; 0 means kernel_size.", min=0, max=1024),
            Param("padding", "int", 0, "Padding on every side.", min=0, max=512),
        ),
        infer=_pool_shape(name),
        build=lambda p, s: cls(p["kernel_size"], stride=p["stride"] or None, padding=p["padding"]),
        key_params=("kernel_size",),
    )


def _upsample_shape(p: Params, s: Shapes) -> dict[str, Shape]:
    x = s["in"]
    if p["mode"] == "bilinear":
        need_rank("Upsample", x, (4,), "N×C×H×W (bilinear)")
    else:
        need_rank("Upsample", x, (3, 4, 5), "N×C×L, N×C×H×W or N×C×D×H×W")
    need_spatial("Upsample", x, "N×C×…")
    scale = p["scale_factor"]
    spatial = tuple(math.floor(d * scale) for d in x[2:])
    if any(d < 1 for d in spatial):
        # PyTorch refuses an empty output at run time; say so while wiring.
        raise ShapeError(f"scale_factor {scale} shrinks {fmt_shape(x)} to nothing")
    return {"out": x[:2] + spatial}


UPSAMPLE = BlockSpec(
    name="Upsample",
    category="Convolution",
    doc="Enlarges each spatial axis by scale_factor (nearest or bilinear), no weights.",
    inputs=IN,
    outputs=OUT,
    params=(
        Param("scale_factor", "float", 2.0, "Factor applied to each spatial axis.", min=0.01, max=64.0),
        Param("mode", "choice", "nearest", "Interpolation.", choices=("nearest", "bilinear")),
    ),
    infer=_upsample_shape,
    build=lambda p, s: nn.Upsample(
        scale_factor=p["scale_factor"], mode=p["mode"],
        **({"align_corners": False} if p["mode"] == "bilinear" else {}),
    ),
    key_params=("scale_factor",),
)

BLOCKS = (
    _conv(1, nn.Conv1d),
    _conv(2, nn.Conv2d),
    CONV_TRANSPOSE2D,
    _pool("MaxPool2d", "Keeps the largest value of each window (downsamples).", nn.MaxPool2d),
    _pool("AvgPool2d", "Averages each window (downsamples).", nn.AvgPool2d),
    UPSAMPLE,
)
