"""Parameter counts from the block declarations, without building (or importing) torch.

Checking a document shows every block's parameter count. Building each module
on torch's `meta` device gives the exact figure but needs `import torch` first
(about two seconds at start-up); the formulas below give the same figures from
the parameters and input shapes alone, so `netcanvas check` and the editor's
first check never wait on torch. `tests/test_param_counts.py` holds each
formula to the real module's count over a grid of settings, and checks that a
configuration torch refuses to build is refused here too. A block with no
formula here falls back to the meta-device build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.blocks.base import BlockSpec, Params, Shapes


def _linear(inputs: int, outputs: int, bias: bool) -> int:
    return inputs * outputs + (outputs if bias else 0)


def _size(value: Any, what: str) -> int:
    """A size the module needs: a positive int (the batch axis N or 0 cannot size a weight)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive size, got {value!r}")
    return value


def _conv(p: Params, s: Shapes) -> int:
    channels = _size(s["in"][1], "in_channels")
    kernel = p["kernel_size"] ** (len(s["in"]) - 2)
    return channels * p["out_channels"] * kernel + (p["out_channels"] if p["bias"] else 0)


def _norm(p: Params, s: Shapes) -> int:
    return 2 * _size(s["in"][1], "num_features")  # weight and bias (affine)


def _layer_norm(p: Params, s: Shapes) -> int:
    return 2 * _size(s["in"][-1], "normalized_shape") if p["elementwise_affine"] else 0


GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent(name: str) -> Callable[[Params, Shapes], int]:
    def count(p: Params, s: Shapes) -> int:
        gates, hidden = GATES[name], p["hidden_size"]
        directions = 2 if p["bidirectional"] else 1
        features = _size(s["in"][-1], "input_size")
        total = 0
        for layer in range(p["num_layers"]):
            width = features if layer == 0 else hidden * directions
            # weight_ih, weight_hh and the two bias vectors, per direction
            total += directions * gates * hidden * (width + hidden + 2)
        return total

    return count


def _attention(embed: int, kdim: int, vdim: int, bias: bool) -> int:
    """nn.MultiheadAttention: the q/k/v projections (packed when widths agree) and out_proj."""
    projections = embed * (embed + kdim + vdim) + (3 * embed if bias else 0)
    return projections + _linear(embed, embed, bias)


def _mha(p: Params, s: Shapes) -> int:
    embed = _size(s["query"][2], "embed_dim")
    return _attention(embed, _size(s["key"][2], "kdim"), _size(s["value"][2], "vdim"), p["bias"])


def _encoder(p: Params, s: Shapes) -> int:
    d, ff = _size(s["in"][2], "d_model"), p["dim_feedforward"]
    return _attention(d, d, d, True) + _linear(d, ff, True) + _linear(ff, d, True) + 2 * 2 * d


def _gat(p: Params, s: Shapes) -> int:
    """GATConv: the shared linear map, a source and a target vector per head, the bias."""
    width = p["heads"] * p["out_features"]
    bias = (width if p["concat"] else p["out_features"]) if p["bias"] else 0
    return _linear(_size(s["features"][-1], "in_features"), width, False) + 2 * width + bias


def _none(p: Params, s: Shapes) -> int:
    return 0


COUNTS: dict[str, Callable[[Params, Shapes], int]] = {
    "Linear": lambda p, s: _linear(_size(s["in"][-1], "in_features"), p["out_features"], p["bias"]),
    "Conv1d": _conv, "Conv2d": _conv, "ConvTranspose2d": _conv,
    "BatchNorm1d": _norm, "BatchNorm2d": _norm, "LayerNorm": _layer_norm,
    "RNN": _recurrent("RNN"), "LSTM": _recurrent("LSTM"), "GRU": _recurrent("GRU"),
    "MultiheadAttention": _mha, "TransformerEncoderLayer": _encoder,
    "GraphConv": lambda p, s: _linear(_size(s["features"][-1], "in_features"), p["out_features"],
                                      p["bias"]),
    "GATConv": _gat,
    **dict.fromkeys(
        ("Flatten", "Reshape", "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Step",
         "Softmax", "LogSoftmax", "MaxPool2d", "AvgPool2d", "Upsample", "TakeLast",
         "ScaledDotProductAttention", "Add", "Multiply", "Concat"),
        _none,
    ),
}


def parameter_count(spec: BlockSpec, params: Params, inputs: Shapes) -> int:
    """The number of parameters block `spec` would have: declared, formula, or a meta build."""
    if spec.count is not None:
        return spec.count(params, inputs)
    if spec.name in COUNTS:
        return COUNTS[spec.name](params, inputs)
    if spec.build is None:
        return 0
    return built_count(spec, params, inputs)


def built_count(spec: BlockSpec, params: Params, inputs: Shapes) -> int:
    """The count of the real module, built on `meta` (sizes only: no memory, no initialisation)."""
    import torch

    with torch.device("meta"):
        return sum(p.numel() for p in spec.build(params, inputs).parameters())
