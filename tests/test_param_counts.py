"""The torch-free parameter counts equal the real modules', and checking needs no torch."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import warnings

import pytest

from engine.blocks import CATALOGUE
from engine.errors import ShapeError
from engine.param_counts import COUNTS, built_count, parameter_count
from engine.presets import preset_paths
from engine.shapes import with_fallbacks
from tests.conftest import ROOT

BUILD_ERRORS = (ValueError, RuntimeError, AssertionError, TypeError, ZeroDivisionError)

# Input shapes to try per block (every port the rule reads; optional ports may be left out).
INPUTS: dict[str, list[dict]] = {
    "Linear": [{"in": (None, 7)}, {"in": (None, 5, 3)}],
    "Flatten": [{"in": (None, 2, 3, 4)}],
    "Reshape": [{"in": (None, 12)}],
    "Dropout": [{"in": (None, 5)}],
    "BatchNorm1d": [{"in": (None, 6)}, {"in": (None, 6, 10)}],
    "BatchNorm2d": [{"in": (None, 3, 8, 8)}],
    "LayerNorm": [{"in": (None, 5, 7)}],
    "Embedding": [{"in": (None, 9)}],
    "Conv1d": [{"in": (None, 3, 20)}],
    "Conv2d": [{"in": (None, 3, 12, 12)}],
    "ConvTranspose2d": [{"in": (None, 3, 6, 6)}],
    "MaxPool2d": [{"in": (None, 3, 12, 12)}],
    "AvgPool2d": [{"in": (None, 3, 12, 12)}],
    "Upsample": [{"in": (None, 3, 8, 8)}],
    "RNN": [{"in": (None, 5, 7)}], "LSTM": [{"in": (None, 5, 7)}], "GRU": [{"in": (None, 5, 7)}],
    "TakeLast": [{"in": (None, 5, 7)}],
    "PositionalEncoding": [{"in": (None, 5, 8)}],
    "MultiheadAttention": [{"query": (None, 5, 8)},
                           {"query": (None, 5, 8), "key": (None, 6, 4), "value": (None, 6, 3)}],
    "ScaledDotProductAttention": [{"query": (None, 5, 8)}],
    "TransformerEncoderLayer": [{"in": (None, 5, 12)}],
    "GraphConv": [{"adjacency": (6, 6), "features": (6, 4)}],
    "GATConv": [{"adjacency": (6, 6), "features": (6, 4)}, {"adjacency": (None, 5, 5), "features": (None, 5, 3)}],
    "Add": [{"a": (None, 4), "b": (None, 4)}],
    "Multiply": [{"a": (None, 4), "b": (None, 1)}],
    "Concat": [{"a": (None, 4), "b": (None, 3)}],
}
ACTIVATIONS = ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Step", "Softmax", "LogSoftmax")
INPUTS.update({name: [{"in": (None, 4)}] for name in ACTIVATIONS})
BUILT = sorted(name for name, spec in CATALOGUE.items() if spec.build is not None)


def _values(param) -> list:
    """A few legal values of one parameter: its bounds' small end, small sizes, the default."""
    if param.kind == "bool":
        return [False, True]
    if param.kind == "choice":
        return list(param.choices)
    if param.kind == "int":
        low = int(param.min) if param.min is not None else 0
        high = int(param.max) if param.max is not None else 64
        return sorted({v for v in (low, 1, 2, 3, param.default) if low <= v <= high})
    if param.kind == "float":
        return sorted({param.min, param.default, 0.5} - {None})
    return [param.default]


def _settings(name: str, limit: int = 300) -> list[dict]:
    """Every combination of `_values` (a fixed random sample where there are too many)."""
    spec = CATALOGUE[name]
    grid = [dict(zip([p.name for p in spec.params], combo, strict=True))
            for combo in itertools.product(*(_values(p) for p in spec.params))]
    return random.Random(0).sample(grid, limit) if len(grid) > limit else grid


def test_every_built_block_has_a_torch_free_count():
    missing = [n for n in BUILT if n not in COUNTS and CATALOGUE[n].count is None]
    assert missing == []
    assert set(INPUTS) >= set(BUILT)


@pytest.mark.parametrize("name", BUILT)
def test_formula_equals_the_built_module(name):
    spec = CATALOGUE[name]
    compared = 0
    for inputs, params in itertools.product(INPUTS[name], _settings(name)):
        params, inputs = spec.resolve(params), with_fallbacks(spec, inputs)
        try:
            spec.infer(params, inputs)
        except ShapeError:
            continue  # refused by the rule before any count: nothing to compare
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. RNN dropout with one layer
            try:
                real = built_count(spec, params, inputs)
            except BUILD_ERRORS:
                with pytest.raises(BUILD_ERRORS):  # torch refuses: so must the formula
                    parameter_count(spec, params, inputs)
                continue
        assert parameter_count(spec, params, inputs) == real, (params, inputs)
        compared += 1
    assert compared > 0


def test_a_shape_without_a_size_is_refused_like_torch_does():
    spec = CATALOGUE["BatchNorm1d"]
    inputs, params = {"in": (None, None)}, spec.resolve({})
    with pytest.raises(BUILD_ERRORS):
        built_count(spec, params, inputs)
    with pytest.raises(ValueError, match="num_features"):
        parameter_count(spec, params, inputs)


PROBE = """
import sys
from engine.presets import preset_paths
from engine.readwrite import load_json_document
from engine.shapes import check
totals = {p.stem: {n: r.parameters for n, r in check(load_json_document(p)).networks.items()}
          for p in preset_paths()}
assert "torch" not in sys.modules, "checking imported torch"
print(totals)
"""


def test_checking_every_preset_imports_no_torch_and_counts_as_the_modules():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    totals = eval(done.stdout)  # noqa: S307  our own printed dict of ints
    assert totals["lenet_digits"] == {"main": 431_080}
    assert totals["gan_digits"] == {"generator": 1_486_352, "discriminator": 1_460_225}
    assert set(totals) == {p.stem for p in preset_paths()}
