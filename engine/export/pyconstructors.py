"""How `model.py` builds a layer: the constructor call read back from a built module.

The arguments come from the module's `__init__` signature and the attributes of
the same names (so a block added to the catalogue later exports without
touching this file), or from a reader in `SPECIAL` for layers whose attributes
do not mirror their arguments. `arguments` gives them as (name, value, default)
so `pyplan.py` can replace a value by a composite's `__init__` parameter;
`constructor` renders them as a person writes the call, defaults left out.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from engine.blocks import modules as custom_layers
from engine.errors import NetCanvasError
from engine.export.pynames import literal

REQUIRED = inspect.Parameter.empty

Argument = tuple[str, Any, Any]  # name, value, default (REQUIRED: written positionally)


def constructor(module: nn.Module) -> str:
    """`nn.Conv2d(1, 20, 5)`: the call that builds `module`, defaults left out."""
    rendered = [render(name, literal(value), default) for name, value, default in arguments(module)
                if default is REQUIRED or value != default]
    return f"{callee(module)}({', '.join(rendered)})"


def render(name: str, expression: str, default: Any) -> str:
    """One argument of a call: positional when required, else `name=expression`."""
    return expression if default is REQUIRED else f"{name}={expression}"


def callee(module: nn.Module) -> str:
    """`nn.Conv2d`, or a copied layer's bare class name; refuses any other module."""
    cls = type(module)
    if cls.__module__ == custom_layers.__name__:
        return cls.__name__
    if getattr(nn, cls.__name__, None) is cls:
        return f"nn.{cls.__name__}"
    raise NetCanvasError(f"cannot write PyTorch source for a {cls.__module__}.{cls.__name__} layer")


def arguments(module: nn.Module) -> list[Argument]:
    """The constructor arguments of `module` as (name, value, default)."""
    callee(module)
    special = SPECIAL.get(type(module).__name__)
    return special(module) if special else _from_signature(module)


def _from_signature(module: nn.Module) -> list[Argument]:
    """Arguments read back from attributes named like the `__init__` parameters."""
    found = []
    for param in inspect.signature(type(module).__init__).parameters.values():
        if (param.name in ("self", "device", "dtype") or param.name.startswith("_")
                or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD)):
            continue
        if not hasattr(module, param.name):
            if param.default is REQUIRED:
                raise NetCanvasError(f"cannot write PyTorch source for {type(module).__name__}: "
                                     f"its '{param.name}' is not readable")
            continue
        value = _plain(getattr(module, param.name), param.name)
        if param.name == "stride" and param.default is None and value == _plain(
                getattr(module, "kernel_size", None), "kernel_size"):
            continue  # pooling: stride defaults to the kernel size
        found.append((param.name, value, param.default))
    return found


def _plain(value: Any, name: str) -> Any:
    """Attribute values as a person writes them: `5` for `(5, 5)`, `False` for no bias."""
    if name == "bias" and (value is None or isinstance(value, torch.Tensor)):
        return value is not None
    if isinstance(value, torch.Size):
        value = tuple(value)
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _recurrent(module: nn.RNNBase) -> list[Argument]:
    arguments: list[Argument] = [("input_size", module.input_size, REQUIRED),
                                 ("hidden_size", module.hidden_size, REQUIRED),
                                 ("num_layers", module.num_layers, 1)]
    if isinstance(module, nn.RNN):
        arguments.append(("nonlinearity", module.nonlinearity, "tanh"))
    arguments += [("bias", module.bias, True), ("batch_first", module.batch_first, False),
                  ("dropout", float(module.dropout), 0.0),
                  ("bidirectional", module.bidirectional, False)]
    if isinstance(module, nn.LSTM):
        arguments.append(("proj_size", module.proj_size, 0))
    return arguments


def _attention(module: nn.MultiheadAttention) -> list[Argument]:
    return [("embed_dim", module.embed_dim, REQUIRED), ("num_heads", module.num_heads, REQUIRED),
            ("dropout", float(module.dropout), 0.0), ("bias", module.in_proj_bias is not None, True),
            ("add_bias_kv", module.bias_k is not None, False),
            ("add_zero_attn", module.add_zero_attn, False),
            ("kdim", module.kdim, module.embed_dim), ("vdim", module.vdim, module.embed_dim),
            ("batch_first", module.batch_first, False)]


def _encoder_layer(module: nn.TransformerEncoderLayer) -> list[Argument]:
    activation = getattr(module.activation, "__name__", type(module.activation).__name__).lower()
    if activation not in ("relu", "gelu"):
        raise NetCanvasError(f"cannot write PyTorch source for a TransformerEncoderLayer "
                             f"with activation {activation}")
    attention = module.self_attn
    return [("d_model", attention.embed_dim, REQUIRED), ("nhead", attention.num_heads, REQUIRED),
            ("dim_feedforward", module.linear1.out_features, 2048),
            ("dropout", module.dropout.p, 0.1), ("activation", activation, "relu"),
            ("layer_norm_eps", module.norm1.eps, 1e-5),
            ("batch_first", attention.batch_first, False), ("norm_first", module.norm_first, False),
            ("bias", module.linear1.bias is not None, True)]


def _positional(module: custom_layers.PositionalEncoding) -> list[Argument]:
    return [("d_model", module.pe.shape[1], REQUIRED), ("max_len", module.pe.shape[0], 512),
            ("dropout", module.dropout.p, 0.0)]


def _graph_conv(module: custom_layers.GraphConv) -> list[Argument]:
    return [("in_features", module.linear.in_features, REQUIRED),
            ("out_features", module.linear.out_features, REQUIRED),
            ("bias", module.linear.bias is not None, True), ("normalize", module.normalize, True)]


SPECIAL = {"RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
           "MultiheadAttention": _attention, "TransformerEncoderLayer": _encoder_layer,
           "PositionalEncoding": _positional, "GraphConv": _graph_conv}
