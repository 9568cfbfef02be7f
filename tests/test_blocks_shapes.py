"""Every block's shape rule against a real forward pass of the module it builds.

The editor draws the rule's shapes on the edges and the compiler trusts them,
so a rule that disagrees with PyTorch is a lie the user sees. Each case runs
the rule, builds the real module, feeds it random tensors (batch 3 where the
rule says N) and compares every output port and the parameter count.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.blocks import CATALOGUE
from engine.blocks.base import BlockSpec, Shape
from engine.shapes import infer_block

BATCH = 3
OTHER_BATCH = 4  # a second run tells a batch-sized axis from a fixed one

# block -> [(params, input shapes)]; None is the batch axis.
CASES: dict[str, list[tuple[dict[str, Any], dict[str, Shape]]]] = {
    "Linear": [
        ({"out_features": 7}, {"in": (None, 5)}),
        ({"out_features": 4, "bias": False}, {"in": (None, 6, 5)}),
        ({"out_features": 2}, {"in": (None, 3, 4, 5)}),
        ({"out_features": 3}, {"in": (5,)}),
    ],
    "Flatten": [
        ({}, {"in": (None, 50, 4, 4)}),
        ({"start_dim": 2}, {"in": (None, 3, 4, 5)}),
        ({"start_dim": 1, "end_dim": 2}, {"in": (None, 3, 4, 5)}),
        ({"start_dim": -2, "end_dim": -1}, {"in": (None, 3, 4, 5)}),
        ({"start_dim": 0, "end_dim": 1}, {"in": (None, 1, 4)}),  # N·1 is still N
        ({"start_dim": 0, "end_dim": 0}, {"in": (None, 3, 4)}),
        ({"start_dim": 0}, {"in": (5, 3, 4)}),  # no batch axis (a whole graph): anything goes
        ({"start_dim": 1, "end_dim": 1}, {"in": (None, 3, 4)}),
        ({}, {"in": (None, 7)}),
    ],
    "Reshape": [
        ({"shape": [1, 28, 28]}, {"in": (None, 784)}),
        ({"shape": [-1]}, {"in": (None, 2, 3, 4)}),
        ({"shape": [4, -1]}, {"in": (None, 2, 3, 4)}),
        ({"shape": [-1, 2, 2]}, {"in": (None, 16)}),
        ({"shape": [6, 4]}, {"in": (None, 24)}),
    ],
    "Dropout": [({}, {"in": (None, 5)}), ({"p": 0.1}, {"in": (None, 2, 3, 4)})],
    "BatchNorm1d": [({}, {"in": (None, 6)}), ({"eps": 1e-3, "momentum": 0.2}, {"in": (None, 4, 9)})],
    "BatchNorm2d": [({}, {"in": (None, 3, 5, 5)})],
    "LayerNorm": [
        ({}, {"in": (None, 8)}),
        ({"elementwise_affine": False}, {"in": (None, 5, 8)}),
        ({}, {"in": (None, 2, 3, 4)}),
    ],
    "Embedding": [
        ({}, {"in": (None, 7)}),
        ({"num_embeddings": 100, "embedding_dim": 8}, {"in": (None, 4)}),
        ({"num_embeddings": 5, "embedding_dim": 3}, {"in": (None,)}),
    ],
    "ReLU": [({}, {"in": (None, 4)}), ({}, {"in": (None, 2, 3, 4)})],
    "LeakyReLU": [({"negative_slope": 0.2}, {"in": (None, 4, 4)})],
    "Sigmoid": [({}, {"in": (None, 4)})],
    "Tanh": [({}, {"in": (None, 3, 4)})],
    "GELU": [({}, {"in": (None, 6)})],
    "Step": [({}, {"in": (None, 6)})],
    "Softmax": [({}, {"in": (None, 10)}), ({"dim": 1}, {"in": (None, 3, 4)}), ({"dim": -2}, {"in": (None, 3, 4)})],
    "LogSoftmax": [({"dim": 1}, {"in": (None, 10)}), ({"dim": 0}, {"in": (None, 3)})],
    "Conv1d": [
        ({"out_channels": 4, "kernel_size": 3}, {"in": (None, 2, 10)}),
        ({"out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 2, "dilation": 1}, {"in": (None, 3, 11)}),
        ({"out_channels": 2, "kernel_size": 3, "dilation": 3, "bias": False}, {"in": (None, 1, 12)}),
    ],
    "Conv2d": [
        ({"out_channels": 20, "kernel_size": 5}, {"in": (None, 1, 28, 28)}),
        ({"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, {"in": (None, 3, 9, 7)}),
        ({"out_channels": 2, "kernel_size": 3, "dilation": 2}, {"in": (None, 2, 8, 8)}),
        ({"out_channels": 3, "kernel_size": 4, "stride": 3, "padding": 2, "dilation": 2, "bias": False},
         {"in": (None, 2, 13, 10)}),
        ({"out_channels": 5, "kernel_size": 1}, {"in": (None, 4, 3, 3)}),
    ],
    "ConvTranspose2d": [
        ({"out_channels": 4, "kernel_size": 3}, {"in": (None, 2, 5, 5)}),
        ({"out_channels": 3, "kernel_size": 4, "stride": 2, "padding": 1}, {"in": (None, 8, 7, 7)}),
        ({"out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
         {"in": (None, 2, 4, 6)}),
        ({"out_channels": 2, "kernel_size": 3, "stride": 1, "dilation": 2, "output_padding": 1, "bias": False},
         {"in": (None, 2, 4, 4)}),
    ],
    "MaxPool2d": [
        ({"kernel_size": 2}, {"in": (None, 20, 24, 24)}),
        ({"kernel_size": 3, "stride": 2}, {"in": (None, 2, 9, 8)}),
        ({"kernel_size": 3, "stride": 1, "padding": 1}, {"in": (None, 2, 5, 5)}),
        ({"kernel_size": 2}, {"in": (None, 1, 7, 5)}),
    ],
    "AvgPool2d": [
        ({"kernel_size": 2}, {"in": (None, 3, 8, 8)}),
        ({"kernel_size": 3, "stride": 2, "padding": 1}, {"in": (None, 2, 9, 10)}),
        ({"kernel_size": 4, "stride": 3}, {"in": (None, 1, 11, 13)}),
    ],
    "Upsample": [
        ({}, {"in": (None, 2, 4, 4)}),
        ({"scale_factor": 1.5}, {"in": (None, 2, 5, 7)}),
        ({"scale_factor": 3.0}, {"in": (None, 2, 5)}),
        ({"scale_factor": 2.0}, {"in": (None, 1, 2, 3, 4)}),
        ({"mode": "bilinear"}, {"in": (None, 3, 4, 5)}),
        ({"mode": "bilinear", "scale_factor": 0.5}, {"in": (None, 1, 9, 8)}),
    ],
    "RNN": [
        ({"hidden_size": 8}, {"in": (None, 5, 3)}),
        ({"hidden_size": 4, "num_layers": 2, "bidirectional": True, "nonlinearity": "relu"}, {"in": (None, 6, 3)}),
        ({"hidden_size": 4, "batch_first": False}, {"in": (7, None, 3)}),
    ],
    "LSTM": [
        ({"hidden_size": 8}, {"in": (None, 5, 3)}),
        ({"hidden_size": 6, "num_layers": 3, "bidirectional": True, "dropout": 0.1}, {"in": (None, 4, 2)}),
        ({"hidden_size": 4, "batch_first": False, "bidirectional": True}, {"in": (5, None, 3)}),
        ({"hidden_size": 5, "num_layers": 2, "batch_first": False}, {"in": (6, None, 2)}),
    ],
    "GRU": [
        ({"hidden_size": 8}, {"in": (None, 5, 3)}),
        ({"hidden_size": 4, "num_layers": 2, "bidirectional": True}, {"in": (None, 3, 6)}),
        ({"hidden_size": 3, "batch_first": False}, {"in": (4, None, 2)}),
    ],
    "TakeLast": [({}, {"in": (None, 5, 4)}), ({}, {"in": (None, 1, 7)})],
    "PositionalEncoding": [
        ({}, {"in": (None, 10, 16)}),
        ({"max_len": 12, "dropout": 0.1}, {"in": (None, 12, 7)}),
        ({"max_len": 4}, {"in": (None, 3, 1)}),
    ],
    "MultiheadAttention": [
        ({}, {"query": (None, 5, 16)}),  # self-attention: key and value fall back to query
        ({"num_heads": 2}, {"query": (None, 5, 8), "key": (None, 7, 8)}),  # value falls back to key
        ({"num_heads": 2}, {"query": (None, 5, 8), "key": (None, 7, 6), "value": (None, 7, 10)}),  # kdim, vdim ≠ embed
        ({"num_heads": 1, "bias": False, "dropout": 0.1}, {"query": (None, 4, 6), "key": (None, 3, 5)}),
        ({"num_heads": 3}, {"query": (None, 2, 9), "value": (None, 2, 4)}),  # key falls back to query
    ],
    "ScaledDotProductAttention": [
        ({}, {"query": (None, 5, 8)}),
        ({"causal": True}, {"query": (None, 5, 8)}),
        ({}, {"query": (None, 4, 8), "key": (None, 6, 8), "value": (None, 6, 3)}),
        ({"causal": True}, {"query": (None, 4, 8), "key": (None, 6, 8)}),
    ],
    "TransformerEncoderLayer": [
        ({}, {"in": (None, 5, 16)}),
        ({"nhead": 2, "dim_feedforward": 32, "activation": "gelu", "norm_first": True}, {"in": (None, 3, 8)}),
        ({"nhead": 1, "dropout": 0.0}, {"in": (None, 1, 5)}),
    ],
    "GraphConv": [
        ({"out_features": 4}, {"adjacency": (6, 6), "features": (6, 3)}),  # one whole graph
        ({"out_features": 2, "bias": False, "normalize": False}, {"adjacency": (5, 5), "features": (5, 7)}),
        ({"out_features": 4}, {"adjacency": (None, 6, 6), "features": (None, 6, 3)}),  # batched graphs
        ({"out_features": 3, "normalize": False}, {"adjacency": (None, 4, 4), "features": (None, 4, 2)}),
    ],
    "GATConv": [
        ({"out_features": 4, "heads": 3}, {"adjacency": (6, 6), "features": (6, 3)}),  # 12 = 3 heads × 4
        ({"out_features": 2, "heads": 2, "concat": False, "bias": False, "add_self_loops": False},
         {"adjacency": (5, 5), "features": (5, 7)}),  # heads averaged
        ({"out_features": 3, "heads": 2, "dropout": 0.5}, {"adjacency": (None, 4, 4), "features": (None, 4, 2)}),
    ],
    "Add": [
        ({}, {"a": (None, 4), "b": (None, 4)}),
        ({}, {"a": (None, 3, 4), "b": (None, 1, 4)}),  # broadcasting
        ({}, {"a": (None, 3, 4), "b": (4,)}),  # lower rank broadcasts on the left
        ({}, {"a": (None, 1, 4), "b": (None, 3, 1)}),
        ({}, {"a": (None, 4), "b": (None, 4), "c": (None, 4), "d": (1, 4)}),
    ],
    "Multiply": [
        ({}, {"a": (None, 4), "b": (None, 4)}),
        ({}, {"a": (None, 2, 3), "b": (1, 1, 3), "c": (None, 2, 1)}),
    ],
    "Concat": [
        ({}, {"a": (None, 3), "b": (None, 5)}),
        ({"dim": 1}, {"a": (None, 2, 4, 4), "b": (None, 3, 4, 4), "c": (None, 1, 4, 4)}),
        ({"dim": -1}, {"a": (None, 5, 2), "b": (None, 5, 6)}),
        ({"dim": 2}, {"a": (None, 2, 3, 4), "b": (None, 2, 1, 4)}),
        ({"dim": 0}, {"a": (5, 3), "b": (2, 3)}),  # unbatched rows (graph nodes)
    ],
}

# Blocks with no module (data enters and leaves the graph); they are checked elsewhere.
NOT_BUILT = {name for name, spec in CATALOGUE.items() if spec.build is None}


def concrete(shape: Shape, batch: int = BATCH) -> tuple[int, ...]:
    return tuple(batch if d is None else d for d in shape)


def sample(spec: BlockSpec, params: dict[str, Any], port: str, shape: Shape,
           batch: int = BATCH) -> torch.Tensor:
    """A random tensor that the block accepts on `port` (tokens for Embedding, 0/1 adjacency)."""
    size = concrete(shape, batch)
    if spec.name == "Embedding":
        return torch.randint(0, params["num_embeddings"], size, dtype=torch.int64)
    if port == "adjacency":
        return (torch.rand(size) < 0.5).float()
    return torch.randn(size)


def run_block(spec: BlockSpec, params: dict[str, Any], inputs: dict[str, Shape],
              batch: int = BATCH) -> Any:
    """Build the real module and call it as the compiler does."""
    filled = dict(inputs)
    for port in spec.inputs:  # optional ports take their fallback's tensor, as in compiled code
        if port.name not in filled and port.fallback:
            filled[port.name] = filled[port.fallback]
    tensors = {port: sample(spec, params, port, shape, batch) for port, shape in inputs.items()}
    for port in spec.inputs:
        if port.name not in tensors and port.fallback:
            tensors[port.name] = tensors[port.fallback]
    module = spec.build(params, filled)
    module.eval()
    with torch.no_grad():
        if spec.variadic:
            return module, module([tensors[p] for p in sorted(tensors)])
        return module, module(*(tensors[p.name] for p in spec.inputs))


def pick(value: Any, path: tuple[int, ...]) -> Any:
    for index in path:
        value = value[index]
    return value


def all_cases():
    for name, cases in CASES.items():
        for i, (params, inputs) in enumerate(cases):
            yield pytest.param(name, params, inputs, id=f"{name}-{i}")


@pytest.mark.parametrize(("name", "params", "inputs"), list(all_cases()))
def test_rule_matches_forward_pass(name: str, params: dict[str, Any], inputs: dict[str, Shape]):
    spec = CATALOGUE[name]
    resolved = spec.resolve(params)
    assert set(resolved) >= set(params), "a case names a parameter the block does not declare"
    result = infer_block(spec, resolved, inputs)
    assert result.error is None, result.error
    assert set(result.outputs) == set(spec.output_names())
    module, value = run_block(spec, resolved, inputs)
    _, other = run_block(spec, resolved, inputs, OTHER_BATCH)
    for port in spec.output_names():
        path = spec.output_paths.get(port, ())
        real, real_other = pick(value, path), pick(other, path)
        assert isinstance(real, torch.Tensor), f"{name}.{port} is not a tensor"
        rule = result.outputs[port]
        assert len(real.shape) == len(rule), f"{name}.{port}: rank {real.shape} vs {rule}"
        for axis, size in enumerate(rule):
            if size is None:  # depends on the batch (N, or N·k after Flatten over the batch)
                assert real.shape[axis] != real_other.shape[axis], f"{name}.{port} axis {axis}"
                assert real.shape[axis] % BATCH == 0, f"{name}.{port} axis {axis}"
            else:
                assert real.shape[axis] == real_other.shape[axis] == size, (
                    f"{name}.{port} axis {axis}: rule {rule}, torch {tuple(real.shape)}")
    assert result.parameters == sum(p.numel() for p in module.parameters())


def test_every_buildable_block_has_cases():
    """A block added to the catalogue without cases here fails, so no rule goes untested."""
    missing = sorted(set(CATALOGUE) - NOT_BUILT - set(CASES))
    assert not missing, f"add shape cases for: {', '.join(missing)}"
    assert not set(CASES) - set(CATALOGUE), "cases for blocks that no longer exist"
    for name in CASES:
        assert len(CASES[name]) >= 1


# ---- what the rule refuses, PyTorch refuses too ----------------------------------

REFUSED: list[tuple[str, dict[str, Any], dict[str, Shape]]] = [
    ("Conv2d", {"kernel_size": 5}, {"in": (None, 1, 4, 4)}),  # input smaller than the kernel
    ("Conv2d", {"kernel_size": 3}, {"in": (None, 32)}),
    ("Conv1d", {"kernel_size": 3}, {"in": (None, 2, 3, 8, 8)}),
    ("MaxPool2d", {"kernel_size": 2, "padding": 2}, {"in": (None, 1, 8, 8)}),
    ("AvgPool2d", {"kernel_size": 5}, {"in": (None, 1, 3, 3)}),
    ("ConvTranspose2d", {"stride": 2, "output_padding": 2}, {"in": (None, 1, 4, 4)}),
    ("ConvTranspose2d", {"kernel_size": 1, "padding": 1}, {"in": (None, 1, 1, 1)}),
    ("Upsample", {"mode": "bilinear"}, {"in": (None, 2, 5)}),
    ("Upsample", {"scale_factor": 0.25}, {"in": (None, 1, 3, 3)}),  # no pixel left
    ("Add", {}, {"a": (None, 3), "b": (None, 4)}),
    ("Multiply", {}, {"a": (None, 2, 3), "b": (None, 3, 3)}),
    ("Concat", {"dim": 1}, {"a": (None, 3, 4), "b": (None, 3, 5)}),
    ("Concat", {"dim": 1}, {"a": (None, 3), "b": (None, 3, 5)}),
    ("Concat", {"dim": 3}, {"a": (None, 3), "b": (None, 3)}),
    ("Flatten", {"start_dim": 2, "end_dim": 1}, {"in": (None, 3, 4)}),
    ("Flatten", {"start_dim": 3}, {"in": (None, 3, 4)}),
    ("Reshape", {"shape": [5, -1]}, {"in": (None, 12)}),
    ("Reshape", {"shape": [4, 4]}, {"in": (None, 12)}),
    ("Softmax", {"dim": 2}, {"in": (None, 3)}),
    ("MultiheadAttention", {"num_heads": 3}, {"query": (None, 5, 8)}),
    ("MultiheadAttention", {"num_heads": 2}, {"query": (None, 5, 8), "key": (None, 7, 8), "value": (None, 6, 8)}),
    ("ScaledDotProductAttention", {}, {"query": (None, 4, 8), "key": (None, 6, 5)}),
    ("TransformerEncoderLayer", {"nhead": 3}, {"in": (None, 5, 16)}),
    ("PositionalEncoding", {"max_len": 4}, {"in": (None, 5, 8)}),
    ("GraphConv", {}, {"adjacency": (5, 5), "features": (4, 3)}),
    ("GraphConv", {}, {"adjacency": (5, 4), "features": (5, 3)}),
    ("GATConv", {}, {"adjacency": (5, 5), "features": (4, 3)}),
    ("GATConv", {}, {"adjacency": (5, 4), "features": (5, 3)}),
    ("BatchNorm2d", {}, {"in": (None, 5)}),
]

# Legal in PyTorch but refused while wiring, on purpose: unbatched sequences are
# not a layout the editor offers, and an empty output is never what was meant.
STRICTER = [
    # normalized_shape would be the batch size: torch builds LayerNorm(None) and fails.
    ("LayerNorm", {}, {"in": (None,)}),
    ("LSTM", {}, {"in": (None, 5)}),
    ("GRU", {}, {"in": (None, 2, 3, 5)}),
    ("ConvTranspose2d", {"kernel_size": 1, "stride": 2, "padding": 1, "output_padding": 1},
     {"in": (None, 1, 1, 2)}),
    ("GraphConv", {}, {"adjacency": (5, 5), "features": (None, 5, 3)}),
    # A fixed count of 3 graphs against a batch N: torch broadcasts only when N is 1 or 3.
    ("GraphConv", {}, {"adjacency": (3, 5, 5), "features": (None, 5, 3)}),
    ("GraphConv", {}, {"adjacency": (None, 5, 5), "features": (2, 5, 3)}),
    ("GATConv", {}, {"adjacency": (3, 5, 5), "features": (None, 5, 3)}),
    # One unbatched sample: fine in eval, "Expected more than 1 value per channel" in training.
    ("BatchNorm1d", {}, {"in": (1, 6)}),
    ("BatchNorm2d", {}, {"in": (1, 3, 1, 1)}),
    ("BatchNorm1d", {}, {"in": (4, None)}),  # the batch where the channels should be
    ("Input", {"shape": [0, 3]}, {}),
    ("Input", {"shape": [-1]}, {}),
    # The batch axis N must stay N: joining or merging it gives 2N or N·k, which the
    # shapes downstream would take for N (an Add would then fail at run time).
    ("Concat", {"dim": 0}, {"a": (None, 3), "b": (None, 3)}),
    ("Flatten", {"start_dim": 0}, {"in": (None, 3, 4)}),
    # N away from axis 0 (an RNN's h, a T×N×F sequence) where a block computes on it.
    ("Conv2d", {}, {"in": (2, 3, None, 8)}),
    ("MaxPool2d", {}, {"in": (2, 3, 8, None)}),
    ("ConvTranspose2d", {}, {"in": (1, 3, None, 4)}),
    ("Upsample", {}, {"in": (None, 3, None, 3)}),
    ("Reshape", {"shape": [-1]}, {"in": (1, None, 4)}),
    ("PositionalEncoding", {}, {"in": (4, None, 8)}),
]


@pytest.mark.parametrize(("name", "params", "inputs"), REFUSED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(REFUSED)])
def test_refused_by_rule_and_by_torch(name: str, params: dict[str, Any], inputs: dict[str, Shape]):
    spec = CATALOGUE[name]
    resolved = spec.resolve(params)
    result = infer_block(spec, resolved, inputs)
    assert result.error, f"the rule accepted {inputs}"
    assert result.outputs == {}
    with pytest.raises((RuntimeError, ValueError, IndexError, AssertionError, TypeError)):
        run_block(spec, resolved, inputs)


def test_non_finite_float_parameters_are_range_errors():
    from engine.shapes import param_problems

    for block, name in (("LeakyReLU", "negative_slope"), ("Dropout", "p"), ("BatchNorm1d", "eps"),
                        ("LayerNorm", "eps"), ("Upsample", "scale_factor")):
        for value in (float("nan"), float("inf"), float("-inf")):
            problems = param_problems(CATALOGUE[block], {name: value})
            assert problems and name in problems[0], (block, name, value, problems)
    assert param_problems(CATALOGUE["BatchNorm1d"], {"eps": 0.0}), "torch refuses eps 0 in training"


@pytest.mark.parametrize(("name", "params", "inputs"), STRICTER,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(STRICTER)])
def test_refused_by_rule_on_purpose(name: str, params: dict[str, Any], inputs: dict[str, Shape]):
    spec = CATALOGUE[name]
    result = infer_block(spec, spec.resolve(params), inputs)
    assert result.error and result.outputs == {}


# ---- convolution and pooling arithmetic, exhaustively by hypothesis ------------------

conv_settings = settings(max_examples=60, deadline=None)


def _agree(name: str, params: dict[str, Any], shape: Shape) -> None:
    """The rule and PyTorch either agree on the shape or both refuse."""
    spec = CATALOGUE[name]
    resolved = spec.resolve(params)
    result = infer_block(spec, resolved, {"in": shape})
    try:
        _, real = run_block(spec, resolved, {"in": shape})
    except (RuntimeError, ValueError) as exc:
        assert result.error, f"torch refused ({exc}) but the rule gave {result.outputs}"
        return
    if real.numel() == 0:  # torch returns an empty tensor; the rule refuses it while wiring
        assert result.error, f"torch gave an empty {tuple(real.shape)}, the rule {result.outputs}"
        return
    assert result.error is None, f"the rule refused ({result.error}) but torch gave {tuple(real.shape)}"
    assert tuple(real.shape) == concrete(result.outputs["out"])


@conv_settings
@given(
    h=st.integers(1, 14), w=st.integers(1, 14), kernel=st.integers(1, 6), stride=st.integers(1, 4),
    padding=st.integers(0, 3), dilation=st.integers(1, 3),
)
def test_conv2d_arithmetic(h: int, w: int, kernel: int, stride: int, padding: int, dilation: int):
    params = {"out_channels": 2, "kernel_size": kernel, "stride": stride, "padding": padding,
              "dilation": dilation}
    _agree("Conv2d", params, (None, 1, h, w))


@conv_settings
@given(length=st.integers(1, 20), kernel=st.integers(1, 6), stride=st.integers(1, 4),
       padding=st.integers(0, 3), dilation=st.integers(1, 3))
def test_conv1d_arithmetic(length: int, kernel: int, stride: int, padding: int, dilation: int):
    params = {"out_channels": 2, "kernel_size": kernel, "stride": stride, "padding": padding,
              "dilation": dilation}
    _agree("Conv1d", params, (None, 1, length))


@conv_settings
@given(h=st.integers(1, 8), kernel=st.integers(1, 5), stride=st.integers(1, 3),
       padding=st.integers(0, 3), output_padding=st.integers(0, 2), dilation=st.integers(1, 3))
def test_conv_transpose2d_arithmetic(h: int, kernel: int, stride: int, padding: int,
                                     output_padding: int, dilation: int):
    params = {"out_channels": 1, "kernel_size": kernel, "stride": stride, "padding": padding,
              "output_padding": output_padding, "dilation": dilation}
    _agree("ConvTranspose2d", params, (None, 1, h, h + 1))


@conv_settings
@given(pool=st.sampled_from(["MaxPool2d", "AvgPool2d"]), h=st.integers(1, 14), w=st.integers(1, 14),
       kernel=st.integers(1, 6), stride=st.integers(0, 4), padding=st.integers(0, 3))
def test_pool_arithmetic(pool: str, h: int, w: int, kernel: int, stride: int, padding: int):
    _agree(pool, {"kernel_size": kernel, "stride": stride, "padding": padding}, (None, 1, h, w))


@conv_settings
@given(mode=st.sampled_from(["nearest", "bilinear"]), h=st.integers(1, 12),
       scale=st.floats(0.1, 4.0, allow_nan=False).map(lambda s: math.floor(s * 8) / 8 or 0.125))
def test_upsample_arithmetic(mode: str, h: int, scale: float):
    _agree("Upsample", {"mode": mode, "scale_factor": scale}, (None, 1, h, h + 2))


def test_first_inference_of_every_block_is_quick():
    """The first check in a session must not stall the editor.

    Building some modules on the meta device runs Python decompositions that
    import torch._dynamo and sympy (seconds, once): Embedding's normal_ init
    and PositionalEncoding's sin/cos did. Run every case in a fresh interpreter
    and make sure nothing pulled them in.
    """
    cases = [(name, params, {port: list(shape) for port, shape in inputs.items()})
             for name, params, inputs in (c.values for c in all_cases())]
    code = (
        "import json, sys\n"
        "from engine.blocks import CATALOGUE\n"
        "from engine.shapes import infer_block\n"
        "for name, params, inputs in json.loads(sys.stdin.read()):\n"
        "    spec = CATALOGUE[name]\n"
        "    infer_block(spec, spec.resolve(params), {p: tuple(s) for p, s in inputs.items()})\n"
        "heavy = sorted(m for m in ('torch._dynamo', 'sympy') if m in sys.modules)\n"
        "print(json.dumps(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], input=json.dumps(cases), capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parent.parent, check=True)
    heavy = json.loads(result.stdout)
    # What made it slow, not a stopwatch (timings: benchmarks/shapes_benchmark.py).
    assert heavy == [], f"checking a block imported {heavy}"
