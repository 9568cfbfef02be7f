"""Every block's shape rule holds against real forward passes, for random inputs (hypothesis).

The hand-written cases in test_blocks_shapes.py pin known layouts; this test
draws parameters and input shapes at random for every block of the catalogue.
Whenever a rule accepts an input, the real module must run on it at batch 1, 2
and 3, in train and in eval mode, and give exactly the shapes the rule drew on
the edges (N replaced by the batch) with the parameter count the rule reported.
A rule may refuse what PyTorch would accept (it is stricter on purpose in a few
places), but never accept what PyTorch refuses or give a wrong shape: that is
the lie a user meets only after pressing Run.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.blocks import CATALOGUE
from engine.blocks.base import BlockSpec, Param, Shape
from engine.shapes import infer_block, with_fallbacks
from tests.test_blocks_shapes import NOT_BUILT, pick, sample

BLOCKS = sorted(set(CATALOGUE) - NOT_BUILT)
property_settings = settings(max_examples=40, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow])

# Parameters whose declared range is far beyond what a small random test needs.
SMALL_CAPS = {"out_features": 6, "out_channels": 4, "hidden_size": 5, "num_embeddings": 9,
              "embedding_dim": 5, "dim_feedforward": 8, "max_len": 8, "num_layers": 2,
              "num_heads": 4, "nhead": 4, "heads": 4, "kernel_size": 4, "stride": 3, "padding": 2,
              "dilation": 2, "output_padding": 2}


def _param(param: Param) -> st.SearchStrategy[Any]:
    if param.kind == "bool":
        return st.booleans()
    if param.kind == "choice":
        return st.sampled_from(param.choices)
    if param.kind == "int":
        low = int(param.min) if param.min is not None else -4
        high = int(param.max) if param.max is not None else 8
        low, high = max(low, -4), min(high, low + SMALL_CAPS.get(param.name, 8))
        return st.integers(low, high)
    if param.kind == "float":
        low = param.min if param.min is not None else -2.0
        high = min(param.max if param.max is not None else 4.0, 4.0)
        return st.sampled_from(sorted({low, high, param.default, (low + high) / 2}))
    if param.kind == "ints":
        return st.lists(st.integers(-1, 6).filter(lambda d: d != 0), min_size=1, max_size=3)
    raise AssertionError(f"no strategy for {param.kind}")


@st.composite
def shapes(draw: st.DrawFn, rank: int | None = None) -> Shape:
    """A shape of rank 1..4, usually with the batch axis N first, now and then elsewhere."""
    rank = rank or draw(st.integers(1, 4))
    dims: list[int | None] = [draw(st.integers(1, 6)) for _ in range(rank)]
    where = draw(st.sampled_from(["first", "first", "first", "none", "other"]))
    if where == "first":
        dims[0] = None
    elif where == "other" and rank > 1:
        dims[draw(st.integers(1, rank - 1))] = None
    return tuple(dims)


@st.composite
def related(draw: st.DrawFn, base: Shape) -> Shape:
    """A second input close to `base`: equal, one axis changed, a 1 for broadcasting, or shorter."""
    how = draw(st.sampled_from(["same", "same", "resize", "ones", "drop", "batch", "fresh"]))
    dims = list(base)
    if how == "batch" and dims:  # N against a fixed size on the leading axis, or the other way
        dims[0] = draw(st.integers(1, 4)) if dims[0] is None else None
    elif how == "resize" and dims:
        axis = draw(st.integers(0, len(dims) - 1))
        if dims[axis] is not None:
            dims[axis] = draw(st.integers(1, 6))
    elif how == "ones" and dims:
        dims[draw(st.integers(0, len(dims) - 1))] = 1
    elif how == "drop" and len(dims) > 1:
        dims = dims[1:]
    elif how == "fresh":
        return draw(shapes())
    return tuple(dims)


@st.composite
def block_case(draw: st.DrawFn, spec: BlockSpec) -> tuple[dict[str, Any], dict[str, Shape]]:
    params = spec.resolve({p.name: draw(_param(p)) for p in spec.params})
    first = draw(shapes())
    inputs = {spec.inputs[0].name: first}
    ports = [p.name for p in spec.inputs[1:]]
    if spec.variadic:
        ports += list("cd")[: draw(st.integers(0, 2))]
    for port in ports:
        optional = spec.input_port(port).optional
        if optional and draw(st.booleans()):
            continue  # falls back to another port, as when only `query` is wired
        inputs[port] = draw(related(first))
    if spec.name in ("GraphConv", "GATConv") and draw(st.booleans()):  # graphs: V shared, leading axes vary
        v, f = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        lead = st.sampled_from([(), (None,), (1,), (2,), (3,)])
        inputs = {"adjacency": draw(lead) + (v, v), "features": draw(lead) + (v, f)}
    return params, inputs


def concrete(shape: Shape, batch: int) -> tuple[int, ...]:
    return tuple(batch if d is None else d for d in shape)


def forward(spec: BlockSpec, params: dict[str, Any], inputs: dict[str, Shape], batch: int,
            train: bool) -> Any:
    """The real module on random tensors, called as the compiled network calls it."""
    filled = with_fallbacks(spec, inputs)
    tensors = {port: sample(spec, params, port, shape, batch) for port, shape in inputs.items()}
    for port in spec.inputs:
        if port.name not in tensors and port.fallback:
            tensors[port.name] = tensors[port.fallback]
    torch.manual_seed(0)
    module = spec.build(params, filled)
    module.train(train)
    with torch.no_grad():
        if spec.variadic:
            return module, module([tensors[p] for p in sorted(tensors)])
        return module, module(*(tensors[p.name] for p in spec.inputs))


def _one_value_per_channel(spec: BlockSpec, inputs: dict[str, Shape], batch: int) -> bool:
    """BatchNorm in training needs two values per channel; a batch of one N×C sample has one.

    The rule cannot know the batch size, so this is the trainer's to avoid (it never
    feeds a batch of 1 to a network with BatchNorm); the case is left out here.
    """
    if not spec.name.startswith("BatchNorm"):
        return False
    shape = concrete(inputs["in"], batch)
    per_channel = shape[0]
    for d in shape[2:]:
        per_channel *= d
    return per_channel == 1


def assert_agrees(spec: BlockSpec, params: dict[str, Any], inputs: dict[str, Shape]) -> None:
    result = infer_block(spec, params, inputs)
    if result.error is not None:
        return  # refusing is allowed: the rule may be stricter than PyTorch
    for batch in (1, 2, 3):
        for train in (True, False):
            if train and _one_value_per_channel(spec, inputs, batch):
                continue
            where = f"{spec.name}{params} on {inputs} at batch {batch}, {'train' if train else 'eval'}"
            try:
                module, value = forward(spec, params, inputs, batch, train)
            except Exception as exc:  # noqa: BLE001  any failure is the finding
                pytest.fail(f"the rule gave {result.outputs} but torch failed: {where}: {exc}")
            for port in spec.output_names():
                real = pick(value, spec.output_paths.get(port, ()))
                expected = concrete(result.outputs[port], batch)
                assert tuple(real.shape) == expected, (
                    f"{where}: port {port}: rule {result.outputs[port]}, torch {tuple(real.shape)}")
            assert result.parameters == sum(p.numel() for p in module.parameters()), where


@pytest.mark.parametrize("name", BLOCKS)
@property_settings
@given(data=st.data())
def test_rule_agrees_with_forward_passes(name: str, data: st.DataObject) -> None:
    spec = CATALOGUE[name]
    params, inputs = data.draw(block_case(spec), label="case")
    assert_agrees(spec, params, inputs)


def test_strategies_reach_every_block_accepted():
    """The property test is only as good as its draws: each block must get accepted inputs."""
    from hypothesis import find

    for name in BLOCKS:
        spec = CATALOGUE[name]
        case = find(block_case(spec), lambda c, s=spec: infer_block(s, *c).error is None,
                    settings=settings(max_examples=400, database=None, deadline=None))
        assert infer_block(spec, *case).error is None


# ---- whole networks: random chains, checked and then compiled and run -------------------

CHAINABLE = sorted(name for name in BLOCKS
                   if [p.name for p in CATALOGUE[name].inputs] == ["in"]
                   and not CATALOGUE[name].variadic)


@st.composite
def chains(draw: st.DrawFn) -> Any:
    from engine import Document

    doc = Document()
    net = doc.add_network("main")
    shape = draw(shapes().filter(lambda s: s[0] is None and None not in s[1:]))
    net.add_node("Input", {"shape": list(shape[1:])}, node_id="x")
    previous = "x.out"
    for block in draw(st.lists(st.sampled_from(CHAINABLE), min_size=1, max_size=4)):
        spec = CATALOGUE[block]
        params = {p.name: draw(_param(p)) for p in spec.params}
        node = net.add_node(block, params)
        net.connect(previous, f"{node.id}.in")
        previous = f"{node.id}.out"
    net.connect(previous, f"{net.add_node('Output', node_id='y').id}.in")
    return doc


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(doc=chains())
def test_a_network_that_checks_runs_with_the_shapes_it_showed(doc: Any) -> None:
    """check() says OK -> the compiled network runs at batch 1-3, train and eval, and its
    output has the shape drawn on the Output's wire."""
    from engine import check, compile_network

    report = check(doc)
    if not report.ok:
        return
    net = doc.network("main")
    shape = report.networks["main"].nodes["y"].inputs["in"]
    input_shape = report.networks["main"].nodes["x"].outputs["out"]
    has_batchnorm = any(n.block.startswith("BatchNorm") for n in net.nodes.values())
    first = net.nodes[net.outgoing("x")[0].dst].block
    uses_tokens = first == "Embedding"
    if sum(n.block == "Embedding" for n in net.nodes.values()) > uses_tokens:
        return  # an Embedding fed floats from another block: tokens come only from data
    event(f"compiled a chain of {len(net.nodes) - 2}")
    model = compile_network(doc)
    for batch in (1, 2, 3):
        for train in (True, False):
            if train and batch == 1 and has_batchnorm:
                continue  # one value per channel: the trainer never feeds such a batch
            size = concrete(input_shape, batch)
            x = torch.zeros(size, dtype=torch.int64) if uses_tokens else torch.randn(size)
            model.train(train)
            with torch.no_grad():
                out = model(x)
            assert tuple(out.shape) == concrete(shape, batch), (
                f"{[n.block for n in net.nodes.values()]} at batch {batch}: check said "
                f"{shape}, torch gave {tuple(out.shape)}")
