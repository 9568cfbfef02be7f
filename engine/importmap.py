"""What maps to what when importing a traced module: torch.nn layers and functions.

Each rule looks at one traced operation (and, for a layer, the module itself)
and returns the catalogue block that computes the same thing with its
parameters and wired inputs, `None` for an operation that passes its input
through, or raises `Unmappable` with the reason a person can act on. The
rules are data like the catalogue: supporting one more layer is one entry.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx, nn

if TYPE_CHECKING:
    from engine.importer import Builder

BATCH = 7  # example batch: an odd size no layer width is likely to share


class Unmappable(Exception):
    """One traced operation that no catalogue block computes; carries the reason."""


@dataclass(frozen=True)
class Port:
    """An output port of a block already in the document: where a traced value lives."""

    node: str
    port: str = "out"


@dataclass(frozen=True)
class Multi:
    """The tuple a multi-output block returns, or part of it (`prefix` indexes in)."""

    node: str
    block: str
    prefix: tuple[int, ...] = ()


@dataclass
class Block:
    """What one traced operation becomes."""

    block: str
    params: dict[str, Any]
    inputs: list[tuple[str, fx.Node | Port]]  # (port, traced value or a block's port)
    state: dict[str, torch.Tensor] = field(default_factory=dict)


def is_tensor(node: fx.Node) -> bool:
    """Whether the shape pass saw a tensor here (not a size, a tuple or a plain number)."""
    kind = node.meta.get("type")
    return isinstance(kind, type) and issubclass(kind, torch.Tensor)


def _arg(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    """An argument given by position or keyword, as the function signature names it."""
    return node.args[index] if len(node.args) > index else node.kwargs.get(name, default)


def _square(value: Any, what: str) -> int:
    values = tuple(value) if isinstance(value, tuple | list) else (value,)
    if len(set(values)) != 1 or not isinstance(values[0], int):
        raise Unmappable(f"{what} {value!r} is not square; NetCanvas blocks use one size")
    return values[0]


def _need(condition: bool, reason: str) -> None:
    if not condition:
        raise Unmappable(reason)


def _single(block: str, **params) -> Callable[[nn.Module, fx.Node, Builder], Block]:
    return lambda m, node, b: Block(block, dict(params), [("in", node.args[0])])


def _conv_padding(m: nn.Module) -> int:
    if m.padding == "valid":
        return 0
    if m.padding == "same":  # stride 1 is enforced by PyTorch for "same"
        extra = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
        _need(all(e % 2 == 0 for e in extra), "padding='same' with an even kernel is asymmetric")
        return _square(tuple(e // 2 for e in extra), "padding")
    return _square(m.padding, "padding")


def _conv(block: str):
    def mapper(m, node, b):
        _need(m.groups == 1, f"groups={m.groups} (grouped convolution) has no block")
        _need(m.padding_mode == "zeros", f"padding_mode='{m.padding_mode}' has no block")
        params = {"out_channels": m.out_channels, "kernel_size": _square(m.kernel_size, "kernel"),
                  "stride": _square(m.stride, "stride"), "padding": _conv_padding(m),
                  "dilation": _square(m.dilation, "dilation"), "bias": m.bias is not None}
        if block == "ConvTranspose2d":
            params["output_padding"] = _square(m.output_padding, "output_padding")
        return Block(block, params, [("in", node.args[0])])

    return mapper


def _pool(block: str, kernel, stride, padding, node: fx.Node, **unsupported) -> Block:
    for name, (value, default) in unsupported.items():
        _need(value == default, f"{name}={value!r} has no block")
    kernel = _square(kernel, "kernel")
    stride = kernel if stride in (None, []) else _square(stride, "stride")
    return Block(block, {"kernel_size": kernel, "stride": 0 if stride == kernel else stride,
                         "padding": _square(padding, "padding")}, [("in", node.args[0])])


def _pool_module(block: str):
    def mapper(m, node, b):
        extra = ({"dilation": (m.dilation, 1), "return_indices": (m.return_indices, False)}
                 if block == "MaxPool2d" else
                 {"count_include_pad": (m.count_include_pad, True),
                  "divisor_override": (m.divisor_override, None)})
        return _pool(block, m.kernel_size, m.stride, m.padding, node,
                     ceil_mode=(m.ceil_mode, False), **extra)

    return mapper


def _pool_function(block: str):
    def mapper(node, b):
        extra = ({"dilation": (_arg(node, 4, "dilation", 1), 1)} if block == "MaxPool2d" else
                 {"count_include_pad": (_arg(node, 5, "count_include_pad", True), True)})
        return _pool(block, _arg(node, 1, "kernel_size"), _arg(node, 2, "stride"),
                     _arg(node, 3, "padding", 0), node, **extra)

    return mapper


def _batchnorm(block: str):
    def mapper(m, node, b):
        _need(m.affine and m.track_running_stats and m.momentum is not None,
              "only the default affine, tracked, momentum batch norm has a block")
        return Block(block, {"eps": m.eps, "momentum": m.momentum}, [("in", node.args[0])])

    return mapper


def _layernorm(m, node, b):
    _need(len(m.normalized_shape) == 1, "LayerNorm over several axes has no block")
    _need(not m.elementwise_affine or getattr(m, "bias", True) is not None,
          "LayerNorm without bias has no block")
    return Block("LayerNorm", {"eps": m.eps, "elementwise_affine": m.elementwise_affine},
                 [("in", node.args[0])])


def _embedding(m, node, b):
    _need(m.padding_idx is None and m.max_norm is None and not m.scale_grad_by_freq
          and not m.sparse, "only a plain Embedding has a block (no padding_idx or max_norm)")
    return Block("Embedding", {"num_embeddings": m.num_embeddings,
                               "embedding_dim": m.embedding_dim}, [("in", node.args[0])])


def _recurrent(m, node, b):
    _need(len(node.args) == 1 and not node.kwargs, "an initial hidden state has no input port")
    _need(m.bias and getattr(m, "proj_size", 0) == 0, "bias=False or proj_size has no block")
    params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers,
              "bidirectional": m.bidirectional, "dropout": float(m.dropout),
              "batch_first": m.batch_first}
    if isinstance(m, nn.RNN):
        params["nonlinearity"] = m.nonlinearity
    return Block(type(m).__name__, params, [("in", node.args[0])])


def _qkv(node: fx.Node, names=("query", "key", "value")) -> list[tuple[str, fx.Node]]:
    query, key, value = (_arg(node, i, n) for i, n in enumerate(names))
    wired = [("query", query)]
    if key is not query:
        wired.append(("key", key))
    if value is not key:
        wired.append(("value", value))
    return wired


def _attention(m, node, b):
    _need(m.batch_first, "batch_first=False: NetCanvas's attention is batch-first")
    _need(m.bias_k is None and not m.add_zero_attn, "add_bias_kv/add_zero_attn have no block")
    extra = {k: v for k, v in node.kwargs.items() if v is not None and k != "need_weights"}
    _need(len(node.args) <= 3 and not extra, "masks and other options have no input port")
    return Block("MultiheadAttention", {"num_heads": m.num_heads, "dropout": float(m.dropout),
                                        "bias": m.in_proj_bias is not None}, _qkv(node))


def _encoder_layer(m, node, b):
    activation = getattr(m.activation, "__name__", "")
    _need(m.self_attn.batch_first, "batch_first=False: NetCanvas's encoder layer is batch-first")
    _need(activation in ("relu", "gelu"), f"activation {m.activation!r} has no block")
    _need(math.isclose(m.norm1.eps, 1e-5) and m.linear1.bias is not None,
          "layer_norm_eps other than 1e-5 or bias=False has no block")
    _need(len(node.args) == 1 and not any(v is not None for v in node.kwargs.values()),
          "masks have no input port")
    return Block("TransformerEncoderLayer", {
        "nhead": m.self_attn.num_heads, "dim_feedforward": m.linear1.out_features,
        "dropout": m.dropout.p, "activation": activation, "norm_first": m.norm_first,
    }, [("in", node.args[0])])


def _upsample(scale, mode, align_corners, node: fx.Node) -> Block:
    _need(isinstance(scale, int | float), "only a single scale_factor has a block")
    _need(mode in ("nearest", "bilinear") and not align_corners,
          f"mode '{mode}' (align_corners={align_corners}) has no block")
    return Block("Upsample", {"scale_factor": float(scale), "mode": mode}, [("in", node.args[0])])


def _merged(block: str, operands: Any, params: dict[str, Any]) -> Block:
    operands = list(operands)
    _need(all(isinstance(t, fx.Node) and is_tensor(t) for t in operands),
          "a constant operand has no block")
    _need(2 <= len(operands) <= 8, f"{len(operands)} operands: {block} takes 2 to 8")
    return Block(block, params, [(p, t) for p, t in zip("abcdefgh", operands, strict=False)])


def _merge_function(block: str):
    """`a + b`, `torch.add(a, b)`, `a.mul(b)`: two tensors, nothing else."""
    def mapper(node: fx.Node, b: Builder) -> Block:
        _need(len(node.args) == 2 and node.kwargs.get("alpha", 1) == 1,
              f"only a plain {block.lower()} of two tensors has a block")
        return _merged(block, node.args, {})

    return mapper


def _merge_module(block: str):
    """The catalogue's own Add/Multiply/Concat layers take one list."""
    return lambda m, node, b: _merged(block, node.args[0],
                                      {"dim": m.dim} if block == "Concat" else {})


def _concat_function(node: fx.Node, b: Builder) -> Block:
    return _merged("Concat", _arg(node, 0, "tensors"), {"dim": _arg(node, 1, "dim", 0)})


def _reshape(node: fx.Node, b: Builder) -> Block:
    """`view`/`reshape` keeping the batch axis: a Flatten when it makes N×F, else a Reshape."""
    before, after = b.shape(node.args[0]), b.shape(node)
    _need(len(before) > 0 and len(after) > 0 and before[0] == after[0] == BATCH,
          "it reshapes across the batch axis")
    if len(after) == 2 and len(before) >= 2:
        return Block("Flatten", {}, [("in", node.args[0])])
    return Block("Reshape", {"shape": list(after[1:])}, [("in", node.args[0])])


def _flatten_function(node: fx.Node, b: Builder) -> Block:
    return Block("Flatten", {"start_dim": _arg(node, 1, "start_dim", 0),
                             "end_dim": _arg(node, 2, "end_dim", -1)}, [("in", node.args[0])])


def _getitem(node: fx.Node, b: Builder) -> Block:
    """`out[:, -1]` is TakeLast; so is `h[-1]` of a one-layer, one-way batch-first RNN."""
    source, index = node.args
    _need(is_tensor(source), f"indexing with {index!r} has no block")
    everything = slice(None)
    if index in ((everything, -1), (everything, -1, everything)) and len(b.shape(source)) == 3:
        return Block("TakeLast", {}, [("in", source)])
    value = b.values.get(source)
    if isinstance(value, Port) and value.port == "h" and index in (-1, 0):
        rnn = b.net.nodes[value.node].resolved_params()
        # One layer, one direction: the final state is the output's last step, bit for bit.
        if rnn["num_layers"] == 1 and not rnn["bidirectional"] and rnn["batch_first"]:
            return Block("TakeLast", {}, [("in", Port(value.node, "out"))])
    raise Unmappable(f"indexing with {index!r} has no block")


def _softmax(block: str):
    def mapper(node, b):
        dim = _arg(node, 1, "dim")
        _need(isinstance(dim, int), f"{block.lower()} needs an explicit dim")
        return Block(block, {"dim": dim}, [("in", node.args[0])])

    return mapper


def _dropout(node: fx.Node, b: Builder) -> Block | None:
    if not _arg(node, 2, "training", True):
        return None  # F.dropout(training=False) is the identity
    return Block("Dropout", {"p": float(_arg(node, 1, "p", 0.5))}, [("in", node.args[0])])


def _activation(block: str):
    def mapper(node, b):
        params = {}
        if block == "LeakyReLU":
            params["negative_slope"] = float(_arg(node, 1, "negative_slope", 0.01))
        if block == "GELU":
            _need(_arg(node, 1, "approximate", "none") == "none", "approximate GELU has no block")
        return Block(block, params, [("in", node.args[0])])

    return mapper


def _gelu_module(m: nn.GELU, node: fx.Node, b: Builder) -> Block:
    _need(m.approximate == "none", "approximate GELU has no block")
    return Block("GELU", {}, [("in", node.args[0])])


def _softmax_module(block: str):
    def rule(m: nn.Module, node: fx.Node, b: Builder) -> Block:
        _need(m.dim is not None, f"{block} needs an explicit dim")
        return Block(block, {"dim": m.dim}, [("in", node.args[0])])

    return rule


def _upsample_module(m: nn.Upsample, node: fx.Node, b: Builder) -> Block:
    _need(m.size is None, "a fixed output size has no block")
    return _upsample(m.scale_factor, m.mode, m.align_corners, node)


def _interpolate(node: fx.Node, b: Builder) -> Block:
    _need(_arg(node, 1, "size") is None, "a fixed output size has no block")
    return _upsample(_arg(node, 2, "scale_factor"), _arg(node, 3, "mode", "nearest"),
                     _arg(node, 4, "align_corners"), node)


MODULES: dict[str, Callable[[nn.Module, fx.Node, Builder], Block | None]] = {
    "Linear": lambda m, node, b: Block("Linear", {"out_features": m.out_features,
                                                  "bias": m.bias is not None}, [("in", node.args[0])]),
    "Conv1d": _conv("Conv1d"), "Conv2d": _conv("Conv2d"), "ConvTranspose2d": _conv("ConvTranspose2d"),
    "MaxPool2d": _pool_module("MaxPool2d"), "AvgPool2d": _pool_module("AvgPool2d"),
    "Flatten": lambda m, node, b: Block("Flatten", {"start_dim": m.start_dim, "end_dim": m.end_dim},
                                        [("in", node.args[0])]),
    "Unflatten": lambda m, node, b: _reshape(node, b),
    "Dropout": lambda m, node, b: Block("Dropout", {"p": float(m.p)}, [("in", node.args[0])]),
    "BatchNorm1d": _batchnorm("BatchNorm1d"), "BatchNorm2d": _batchnorm("BatchNorm2d"),
    "LayerNorm": _layernorm, "Embedding": _embedding,
    "RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
    "MultiheadAttention": _attention, "TransformerEncoderLayer": _encoder_layer,
    "ReLU": _single("ReLU"), "Sigmoid": _single("Sigmoid"), "Tanh": _single("Tanh"),
    "LeakyReLU": lambda m, node, b: Block("LeakyReLU", {"negative_slope": float(m.negative_slope)},
                                          [("in", node.args[0])]),
    "GELU": _gelu_module, "Softmax": _softmax_module("Softmax"),
    "LogSoftmax": _softmax_module("LogSoftmax"), "Upsample": _upsample_module,
    "Identity": lambda m, node, b: None,
    # The catalogue's own layers, e.g. from a model.py that NetCanvas exported.
    "Step": _single("Step"), "TakeLast": _single("TakeLast"),
    "Reshape": lambda m, node, b: Block("Reshape", {"shape": list(m.shape)}, [("in", node.args[0])]),
    "PositionalEncoding": lambda m, node, b: Block(
        "PositionalEncoding", {"max_len": m.pe.shape[0], "dropout": float(m.dropout.p)},
        [("in", node.args[0])]),
    "ScaledDotProductAttention": lambda m, node, b: Block(
        "ScaledDotProductAttention", {"causal": bool(m.causal)}, _qkv(node)),
    "GraphConv": lambda m, node, b: Block(
        "GraphConv", {"out_features": m.linear.out_features, "bias": m.linear.bias is not None,
                      "normalize": bool(m.normalize)},
        [("adjacency", _arg(node, 0, "adjacency")), ("features", _arg(node, 1, "features"))]),
    "GATConv": lambda m, node, b: Block(
        "GATConv", {"out_features": m.out_features, "heads": m.heads, "concat": bool(m.concat),
                    "negative_slope": float(m.negative_slope), "dropout": float(m.dropout),
                    "add_self_loops": bool(m.add_self_loops), "bias": m.bias is not None},
        [("adjacency", _arg(node, 0, "adjacency")), ("features", _arg(node, 1, "features"))]),
    "Add": _merge_module("Add"), "Multiply": _merge_module("Multiply"),
    "Concat": _merge_module("Concat"),
}

_RELU = _activation("ReLU")
FUNCTIONS: dict[Any, Callable[[fx.Node, Builder], Block | None]] = {
    F.relu: _RELU, torch.relu: _RELU, ".relu": _RELU,
    torch.sigmoid: _activation("Sigmoid"), F.sigmoid: _activation("Sigmoid"),
    ".sigmoid": _activation("Sigmoid"),
    torch.tanh: _activation("Tanh"), F.tanh: _activation("Tanh"), ".tanh": _activation("Tanh"),
    F.gelu: _activation("GELU"), F.leaky_relu: _activation("LeakyReLU"),
    F.softmax: _softmax("Softmax"), torch.softmax: _softmax("Softmax"), ".softmax": _softmax("Softmax"),
    F.log_softmax: _softmax("LogSoftmax"), torch.log_softmax: _softmax("LogSoftmax"),
    ".log_softmax": _softmax("LogSoftmax"),
    torch.flatten: _flatten_function, ".flatten": _flatten_function,
    ".view": _reshape, ".reshape": _reshape, torch.reshape: _reshape,
    F.max_pool2d: _pool_function("MaxPool2d"), F.avg_pool2d: _pool_function("AvgPool2d"),
    F.dropout: _dropout,
    operator.add: _merge_function("Add"), operator.iadd: _merge_function("Add"),
    torch.add: _merge_function("Add"), ".add": _merge_function("Add"),
    operator.mul: _merge_function("Multiply"), operator.imul: _merge_function("Multiply"),
    torch.mul: _merge_function("Multiply"), ".mul": _merge_function("Multiply"),
    torch.cat: _concat_function, torch.concat: _concat_function,
    operator.getitem: _getitem,
    ".contiguous": lambda node, b: None,
    F.interpolate: _interpolate,
}
