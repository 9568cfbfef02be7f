"""What each ONNX operator, or PyTorch module's group of operators, becomes.

Operator rules read the ONNX attributes and constant inputs (`Gemm` with a
constant weight is a Linear; `MatMul` then `Add` of constants is one too).
Group rules serve the blocks ONNX has no single operator for: the group's
weights are found by name (`attention.in_proj_bias`), through the exporter's
record of which parameter a folded constant came from (`%p_rnn_weight_ih_l0`,
transposed for a MatMul), or from ONNX's own LSTM/GRU/RNN operators with the
gates put back in PyTorch's order; the block's settings are then the first of
a few candidates that reproduces the group's recorded outputs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.importmap import Port, Unmappable
from engine.onnx_import import FX_NODE, Made, Unit, metadata

if TYPE_CHECKING:
    from engine.onnx_import import Graph, Importer


def make(unit: Unit, imp: Importer) -> Made | None:
    """The block for one unit; None passes its input through; raises Unmappable."""
    if unit.cls in COMPOSITES and unit.scope:
        return _composite(unit, imp.graph)
    node = unit.nodes[0]
    rule = OPS.get(node.op_type)
    if rule is None:
        raise Unmappable("no block computes it")
    return rule(node, imp)


def _need(condition: bool, reason: str) -> None:
    if not condition:
        raise Unmappable(reason)


def attr(node, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32))


def _const(imp: Importer, name: str, what: str) -> np.ndarray:
    value = imp.graph.constant(name)
    _need(value is not None, f"its {what} is computed from the inputs; only a constant {what} has a block")
    return value


def _data(imp: Importer, node, count: int | None = None) -> list[str]:
    names = [i for i in node.input if i in imp.graph.data]
    if count is not None:
        _need(len(names) == count, f"takes {len(names)} computed inputs; the block takes {count}")
    return names


def _single(block: str, **params) -> Callable:
    return lambda node, imp: Made(block, dict(params), [("in", _data(imp, node, 1)[0])])


def _same(values, what: str) -> int:
    values = [int(v) for v in values]
    _need(len(set(values)) <= 1, f"a different {what} per axis ({values}) has no block")
    return values[0] if values else 0


def _padding(node) -> int:
    _need(attr(node, "auto_pad", "NOTSET") in ("NOTSET", "VALID"), "auto_pad SAME has no block")
    return _same(attr(node, "pads", [0]), "padding")


# ---- layers with one operator ------------------------------------------------------


def _linear(x: str, weight: np.ndarray, bias: np.ndarray | None, absorbed=()) -> Made:
    _need(weight.ndim == 2, f"a weight of rank {weight.ndim} has no block")
    state = {"weight": _t(weight)}
    if bias is not None:
        _need(bias.size == weight.shape[0], "a bias that is broadcast has no block")
        state["bias"] = _t(bias.reshape(-1))
    return Made("Linear", {"out_features": int(weight.shape[0]), "bias": bias is not None},
                [("in", x)], state, absorbed=list(absorbed))


def _gemm(node, imp: Importer) -> Made:
    _need(attr(node, "transA", 0) == 0 and attr(node, "alpha", 1.0) == 1.0
          and attr(node, "beta", 1.0) == 1.0, "only alpha = beta = 1 without transA has a block")
    x = _data(imp, node, 1)[0]
    _need(node.input[0] == x, "the weight comes first; only x·W has a block")
    weight = _const(imp, node.input[1], "weight")
    weight = weight if attr(node, "transB", 0) else weight.T
    bias = _const(imp, node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    return _linear(x, weight, bias)


def _matmul(node, imp: Importer) -> Made:
    x = _data(imp, node, 1)[0]
    _need(node.input[0] == x, "the weight comes first; only x·W has a block")
    weight = _const(imp, node.input[1], "weight").T
    users = imp.graph.consumers.get(node.output[0], [])
    if len(users) == 1 and users[0].op_type == "Add" and node.output[0] not in imp.graph.outputs:
        other = [i for i in users[0].input if i != node.output[0]]
        bias = imp.graph.constant(other[0]) if len(other) == 1 else None
        if bias is not None and bias.size == weight.shape[0]:
            return _linear(x, weight, bias, [users[0]])
    return _linear(x, weight, None)


def _conv(node, imp: Importer) -> Made:
    weight = _const(imp, node.input[1], "weight")
    transposed = node.op_type == "ConvTranspose"
    blocks = {(False, 1): "Conv1d", (False, 2): "Conv2d", (True, 2): "ConvTranspose2d"}
    block = blocks.get((transposed, weight.ndim - 2))
    _need(block is not None, f"a {weight.ndim - 2}-D {node.op_type} has no block")
    _need(attr(node, "group", 1) == 1, "grouped convolution has no block")
    params = {"out_channels": int(weight.shape[1] if transposed else weight.shape[0]),
              "kernel_size": _same(weight.shape[2:], "kernel size"),
              "stride": _same(attr(node, "strides", [1]), "stride"), "padding": _padding(node),
              "dilation": _same(attr(node, "dilations", [1]), "dilation"),
              "bias": len(node.input) > 2 and bool(node.input[2])}
    state = {"weight": _t(weight)}
    if params["bias"]:
        state["bias"] = _t(_const(imp, node.input[2], "bias"))
    if transposed:
        _need(not attr(node, "output_shape"), "a fixed output_shape has no block")
        params["output_padding"] = _same(attr(node, "output_padding", [0]), "output_padding")
    return Made(block, params, [("in", node.input[0])], state)


def _pool(node, imp: Importer) -> Made:
    kernel = attr(node, "kernel_shape")
    _need(len(kernel) == 2, f"{len(kernel)}-D pooling has no block")
    _need(not attr(node, "ceil_mode", 0), "ceil_mode has no block")
    padding = _padding(node)
    if node.op_type == "MaxPool":
        _need(_same(attr(node, "dilations", [1]), "dilation") == 1, "dilated pooling has no block")
        _need(len(node.output) < 2 or not node.output[1], "pooling indices have no block")
    else:
        _need(padding == 0 or attr(node, "count_include_pad", 0) == 1,
              "padding left out of the average has no block (PyTorch counts it)")
    kernel = _same(kernel, "kernel size")
    stride = _same(attr(node, "strides", [1]), "stride")
    block = "MaxPool2d" if node.op_type == "MaxPool" else "AvgPool2d"
    return Made(block, {"kernel_size": kernel, "stride": 0 if stride == kernel else stride,
                        "padding": padding}, [("in", node.input[0])])


def _reshape(node, imp: Importer) -> Made:
    """Any reshape that keeps the batch axis first: a Flatten to N×F, else a Reshape."""
    x = node.input[0]
    before, after = imp.graph.values[x].shape, imp.graph.values[node.output[0]].shape
    _need(before[:1] == after[:1] == (None,) and None not in before[1:] + after[1:],
          "it reshapes across the batch axis")
    if len(after) == 2 and len(before) > 2:
        return Made("Flatten", {}, [("in", x)])
    return Made("Reshape", {"shape": [int(d) for d in after[1:]]}, [("in", x)])


def _flatten(node, imp: Importer) -> Made:
    _need(attr(node, "axis", 1) == 1, "flattening other than after the batch axis has no block")
    return Made("Flatten", {}, [("in", node.input[0])])


def _softmax(block: str):
    def rule(node, imp: Importer) -> Made:
        return Made(block, {"dim": int(attr(node, "axis", -1))}, [("in", node.input[0])])

    return rule


def _gelu(node, imp: Importer) -> Made:
    _need(attr(node, "approximate", "none") == "none", "approximate GELU has no block")
    return Made("GELU", {}, [("in", node.input[0])])


def _resize(node, imp: Importer) -> Made:
    x = node.input[0]
    before, after = imp.graph.values[x].shape, imp.graph.values[node.output[0]].shape
    _need(len(before) == 4 and before[:2] == after[:2], "only resizing the two spatial axes has a block")
    scales = {after[2] / before[2], after[3] / before[3]}
    _need(len(scales) == 1, "different scales per axis have no block")
    mode = attr(node, "mode", "nearest")
    transform = attr(node, "coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        _need(transform == "asymmetric" and attr(node, "nearest_mode", "round_prefer_floor") == "floor",
              "only PyTorch's nearest (asymmetric, floor) has a block")
        block_mode = "nearest"
    else:
        _need(mode == "linear" and transform in ("pytorch_half_pixel", "half_pixel"),
              f"mode {mode} ({transform}) has no block")
        block_mode = "bilinear"
    return Made("Upsample", {"scale_factor": float(scales.pop()), "mode": block_mode}, [("in", x)])


def _batchnorm(node, imp: Importer) -> Made:
    _need(not attr(node, "training_mode", 0), "batch norm in training mode has no block")
    rank = len(imp.graph.values[node.input[0]].shape)
    _need(rank in (2, 3, 4), f"batch norm over rank {rank} has no block")
    scale, bias, mean, var = (_const(imp, n, "statistic") for n in node.input[1:5])
    state = {"weight": _t(scale), "bias": _t(bias), "running_mean": _t(mean), "running_var": _t(var)}
    params = {"eps": float(attr(node, "epsilon", 1e-5)),
              "momentum": round(1.0 - float(attr(node, "momentum", 0.9)), 6)}
    return Made("BatchNorm2d" if rank == 4 else "BatchNorm1d", params, [("in", node.input[0])], state)


def _layernorm(node, imp: Importer) -> Made:
    rank = len(imp.graph.values[node.input[0]].shape)
    _need(attr(node, "axis", -1) in (-1, rank - 1), "LayerNorm over several axes has no block")
    scale = _const(imp, node.input[1], "scale")
    bias = (_const(imp, node.input[2], "bias") if len(node.input) > 2 and node.input[2]
            else np.zeros_like(scale))
    return Made("LayerNorm", {"eps": float(attr(node, "epsilon", 1e-5))}, [("in", node.input[0])],
                {"weight": _t(scale), "bias": _t(bias)})


def _gather(node, imp: Importer) -> Made:
    """A lookup in a constant table is an Embedding; `x[:, -1]` of a sequence is TakeLast."""
    table = imp.graph.constant(node.input[0])
    axis = attr(node, "axis", 0)
    if table is not None:
        _need(axis == 0 and table.ndim == 2, "only a lookup of rows in a matrix has a block")
        return Made("Embedding", {"num_embeddings": int(table.shape[0]),
                                  "embedding_dim": int(table.shape[1])},
                    [("in", node.input[1])], {"weight": _t(table)})
    index = imp.graph.constant(node.input[1])
    shape = imp.graph.values[node.input[0]].shape
    final = _final_state(node, imp, index)
    if final is not None:
        return Made("TakeLast", {}, [("in", final)])
    _need(index is not None and index.ndim == 0 and len(shape) == 3 and axis in (1, -2)
          and int(index) in (-1, (shape[1] or 0) - 1), "only taking the last step has a block")
    return Made("TakeLast", {}, [("in", node.input[0])])


def _final_state(node, imp: Importer, index) -> Port | None:
    """`h[-1]` of a one-layer, one-way, batch-first RNN is its output's last step, bit for bit."""
    source = imp.ports.get(node.input[0])
    if source is None or source.port != "h" or index is None or index.ndim != 0 or int(index) not in (-1, 0):
        return None
    params = imp.net.nodes[source.node].resolved_params()
    if attr(node, "axis", 0) == 0 and params["num_layers"] == 1 and not params["bidirectional"] \
            and params["batch_first"]:
        return Port(source.node, "out")
    return None


def _merge(block: str):
    def rule(node, imp: Importer) -> Made | None:
        operands = _data(imp, node)
        _need(len(operands) == len(node.input), f"a constant operand of {node.op_type} has no block")
        _need(2 <= len(operands) <= 8, f"{len(operands)} operands: {block} takes 2 to 8")
        params = {"dim": int(attr(node, "axis"))} if block == "Concat" else {}
        return Made(block, params, list(zip("abcdefgh", operands, strict=False)))

    return rule


def _step(node, imp: Importer) -> Made:
    """`x >= 0` cast to a number is the perceptron's Step."""
    threshold = imp.graph.constant(node.input[1])
    _need(threshold is not None and np.all(threshold == 0), "only a comparison with 0 has a block")
    users = imp.graph.consumers.get(node.output[0], [])
    _need(len(users) == 1 and users[0].op_type == "Cast", "a true/false result has no block")
    return Made("Step", {}, [("in", node.input[0])], absorbed=users)


def _cast(node, imp: Importer) -> None:
    _need(attr(node, "to") == 1 and imp.graph.values[node.input[0]].array.dtype == np.float32,
          "a cast to another type has no block")


OPS: dict[str, Callable] = {
    "Gemm": _gemm, "MatMul": _matmul, "Conv": _conv, "ConvTranspose": _conv,
    "MaxPool": _pool, "AveragePool": _pool,
    "Relu": _single("ReLU"), "Sigmoid": _single("Sigmoid"), "Tanh": _single("Tanh"),
    "LeakyRelu": lambda node, imp: Made("LeakyReLU", {"negative_slope": float(attr(node, "alpha", 0.01))},
                                        [("in", node.input[0])]),
    "Gelu": _gelu, "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Flatten": _flatten, "Reshape": _reshape, "Squeeze": _reshape, "Unsqueeze": _reshape,
    "Resize": _resize, "BatchNormalization": _batchnorm, "LayerNormalization": _layernorm,
    "Gather": _gather, "Add": _merge("Add"), "Sum": _merge("Add"), "Mul": _merge("Multiply"),
    "Concat": _merge("Concat"), "GreaterOrEqual": _step,
    "Dropout": lambda node, imp: None, "Identity": lambda node, imp: None, "Cast": _cast,
}


# ---- a PyTorch module's group of operators ----------------------------------------------


def _mangled(key: str) -> str:
    return key.replace(".", "_")


LINEAR_ARGS = re.compile(r"aten\.linear\.default\]\(args = \(%\w+, %(\w+)(?:, %(\w+))?")


class Raw:
    """A group's parameters: by their PyTorch key where the file names them
    (`attention.in_proj_bias`), else by the exporter's name for a folded constant
    (`p_attention_in_proj_weight`), looked up by the key's mangled ending."""

    def __init__(self):
        self.named: dict[str, torch.Tensor] = {}
        self.folded: dict[str, torch.Tensor] = {}

    def get(self, key: str) -> torch.Tensor | None:
        key = _mangled(key)
        if key in self.named:
            return self.named[key]
        return next((t for n, t in self.folded.items() if n.endswith(f"_{key}")), None)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def names(self) -> list[str]:
        return [*self.named, *self.folded]


def _raw_tensors(unit: Unit, g: Graph) -> Raw:
    """The group's parameters as PyTorch holds them."""
    raw = Raw()
    prefix = f"{unit.scope}."
    recurrent = 0
    for node in unit.nodes:
        for name in node.input:
            if name.startswith(prefix) and name in g.initializers:
                raw.named[_mangled(name[len(prefix):])] = _t(g.initializers[name])
        match = LINEAR_ARGS.search(metadata(node).get(FX_NODE, ""))
        if match and node.op_type in ("MatMul", "Gemm") and not node.input[1].startswith(prefix):
            weight = g.constant(node.input[1])
            if weight is not None:
                flip = node.op_type == "MatMul" or not attr(node, "transB", 0)
                raw.folded.setdefault(match.group(1), _t(weight.T if flip else weight))
        if node.op_type in ("LSTM", "GRU", "RNN"):
            raw.named.update(_recurrent_raw(node, g, recurrent))
            recurrent += 1
    return raw


GATE_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}  # ONNX iofc/zrh -> PyTorch ifgo/rzn


def _recurrent_raw(node, g: Graph, layer: int) -> dict[str, torch.Tensor]:
    """ONNX's W, R, B of one layer as PyTorch's weight_ih_lK, weight_hh_lK, bias_ih_lK, bias_hh_lK."""
    _need(node.op_type != "GRU" or attr(node, "linear_before_reset", 0) == 1,
          "a GRU without linear_before_reset is not PyTorch's GRU")
    order = GATE_ORDER[node.op_type]

    def gates(array: np.ndarray) -> torch.Tensor:
        parts = np.split(array, len(order))
        return _t(np.concatenate([parts[i] for i in order]))

    w, r = (g.constant(n) for n in node.input[1:3])
    b = g.constant(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    _need(w is not None and r is not None, "its weights are computed from the inputs")
    raw = {}
    for d in range(w.shape[0]):
        suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
        raw[f"weight_ih{suffix}"], raw[f"weight_hh{suffix}"] = gates(w[d]), gates(r[d])
        if b is not None:
            bias_ih, bias_hh = np.split(b[d], 2)
            raw[f"bias_ih{suffix}"], raw[f"bias_hh{suffix}"] = gates(bias_ih), gates(bias_hh)
    return raw


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _recurrent_grid(cls: str):
    def grid(raw: Raw, unit: Unit, g: Graph) -> Iterator[dict]:
        layers = {m.group(1) for n in raw.names() if (m := re.search(r"weight_hh_l(\d+)$", n))}
        if "weight_hh_l0" not in raw:
            return
        for batch_first, nonlinearity in itertools.product((True, False), ("tanh", "relu")):
            params = {"hidden_size": int(raw.get("weight_hh_l0").shape[1]), "num_layers": len(layers),
                      "bidirectional": "weight_hh_l0_reverse" in raw, "batch_first": batch_first}
            if cls == "RNN":
                params["nonlinearity"] = nonlinearity
            elif nonlinearity == "relu":
                continue
            yield params

    return grid


def _attention_grid(raw: Raw, unit: Unit, g: Graph) -> Iterator[dict]:
    if "out_proj_weight" in raw:
        for heads in _divisors(raw.get("out_proj_weight").shape[0]):
            yield {"num_heads": heads, "bias": "in_proj_bias" in raw}


def _encoder_grid(raw: Raw, unit: Unit, g: Graph) -> Iterator[dict]:
    if "self_attn_out_proj_weight" not in raw or "linear1_weight" not in raw:
        return
    heads = _divisors(raw.get("self_attn_out_proj_weight").shape[0])
    for nhead, activation, norm_first in itertools.product(heads, ("relu", "gelu"), (False, True)):
        yield {"nhead": nhead, "dim_feedforward": int(raw.get("linear1_weight").shape[0]),
               "activation": activation, "norm_first": norm_first}


def _graphconv_grid(raw: Raw, unit: Unit, g: Graph) -> Iterator[dict]:
    if "linear_weight" in raw:
        for normalize in (True, False):
            yield {"out_features": int(raw.get("linear_weight").shape[0]), "bias": "linear_bias" in raw,
                   "normalize": normalize}


def _gat_grid(raw: Raw, unit: Unit, g: Graph) -> Iterator[dict]:
    """Heads and width from a_src; the slope from the LeakyRelu; concat and self loops tried."""
    if "att_src" not in raw:
        return
    heads, width = raw.get("att_src").shape
    slopes = [float(attr(n, "alpha", 0.2)) for n in unit.nodes if n.op_type == "LeakyRelu"]
    for concat, loops in itertools.product((True, False), (True, False)):
        yield {"out_features": int(width), "heads": int(heads), "concat": concat,
               "negative_slope": slopes[0] if slopes else 0.2, "add_self_loops": loops,
               "bias": "bias" in raw}


def _positional_grid(raw: Raw, unit: Unit, g: Graph) -> Iterator[dict]:
    length = max((g.values[i].shape[1] or 0) for i in unit.inputs if len(g.values[i].shape) == 3)
    yield {"max_len": max(512, int(length))}


COMPOSITES: dict[str, Callable[[Raw, Unit, Any], Iterator[dict]]] = {
    "RNN": _recurrent_grid("RNN"), "GRU": _recurrent_grid("GRU"), "LSTM": _recurrent_grid("LSTM"),
    "MultiheadAttention": _attention_grid, "TransformerEncoderLayer": _encoder_grid,
    "GraphConv": _graphconv_grid, "GATConv": _gat_grid, "PositionalEncoding": _positional_grid,
    "ScaledDotProductAttention": lambda raw, unit, g: iter([{"causal": False}, {"causal": True}]),
    "TakeLast": lambda raw, unit, g: iter([{}]), "Step": lambda raw, unit, g: iter([{}]),
}


def _composite(unit: Unit, g: Graph) -> Made:
    raw = _raw_tensors(unit, g)
    for params in COMPOSITES[unit.cls](raw, unit, g):
        for order in itertools.permutations(unit.inputs):
            made = _attempt(unit, g, params, list(order), raw)
            if made is not None:
                return made
    raise Unmappable(f"no setting of the {unit.cls} block reproduces what these operators compute")


def _attempt(unit: Unit, g: Graph, params: dict, inputs: list[str], raw: Raw) -> Made | None:
    """The block with these settings and inputs, if it computes the group's recorded outputs."""
    from engine.blocks import get_block

    spec = get_block(unit.cls)
    ports = [p.name for p in spec.inputs]
    if len(inputs) > len(ports) or len(inputs) < sum(not p.optional for p in spec.inputs):
        return None
    wired = dict(zip(ports, inputs, strict=False))
    args = []
    for port in spec.input_names(set(wired)):
        while port not in wired:  # an optional port takes its fallback's value
            port = spec.input_port(port).fallback
        args.append(wired[port])
    resolved = spec.resolve(params)
    try:
        module = spec.build(resolved, {p: g.values[v].shape for p, v in zip(ports, args, strict=False)})
        fresh = module.state_dict()
        state = {k: _found(raw, k, v) for k, v in fresh.items()}
        module.load_state_dict(state)
        with torch.no_grad():
            result = module.eval()(*(g.tensor(a) for a in args))
    except (RuntimeError, ValueError, AssertionError, TypeError, IndexError):
        return None
    produced = {p: _pick(result, path) for p, path in (spec.output_paths or {"out": ()}).items()}
    outputs = {}
    for value in unit.outputs:
        expected = g.tensor(value)
        port = next((p for p, t in produced.items() if isinstance(t, torch.Tensor)
                     and t.shape == expected.shape and torch.allclose(t, expected, rtol=1e-4, atol=1e-5)), None)
        if port is None:
            return None
        outputs[value] = port
    persistent = {k: v for k, v in state.items() if k in raw or "bias" in k}
    return Made(unit.cls, params, list(wired.items()), persistent, outputs)


def _found(raw: Raw, key: str, fresh: torch.Tensor) -> torch.Tensor:
    """A parameter from the file; a bias it lacks was zero (the exporter drops `+ 0`)."""
    value = raw.get(key)
    if value is not None:
        return value
    return torch.zeros_like(fresh) if "bias" in key else fresh


def _pick(value, path: tuple[int, ...]):
    for i in path:
        if not isinstance(value, tuple | list) or i >= len(value):
            return None
        value = value[i]
    return value
