"""Composite blocks in the engine: resolving, shapes, counts, compiling, repeat."""

from __future__ import annotations

import pytest
import torch

from engine.compiler import compile_network
from engine.composites import builtin_blocks, is_composite
from engine.document import Document
from engine.shapes import check

BUILTIN_CASES = {  # name -> (params, input shapes to try)
    "ConvBNReLU": ({"out_channels": 6}, [(3, 8, 8), (1, 5, 7), (4, 3, 3)]),
    "ResidualBlock": ({"channels": 5}, [(5, 8, 8), (5, 4, 6)]),
    "TransformerEncoderBlock": ({"d_model": 16, "num_heads": 2, "dim_feedforward": 24},
                                [(7, 16), (1, 16), (12, 16)]),
    "MLPBlock": ({"out_features": 9}, [(4,), (3, 11), (2, 5, 6)]),
}


def use_doc(block: str, params: dict, shape: tuple, repeat: int = 1) -> Document:
    """A document `x -> <block> -> out` with the Input's shape given."""
    doc = Document("t")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": list(shape)}, node_id="x")
    net.add_node(block, {**params, "repeat": repeat}, node_id="encoder")
    net.add_node("Output", node_id="out")
    net.connect("x.out", "encoder.in")
    net.connect("encoder.out", "out.in")
    return doc


def test_builtins_are_all_tested_and_resolve_as_composites():
    assert set(builtin_blocks()) == set(BUILTIN_CASES)
    doc = Document()
    for name in BUILTIN_CASES:
        spec = doc.resolve_block(name)
        assert is_composite(spec) and spec.category == "My blocks"
        assert [p.name for p in spec.inputs] == ["in"] and spec.output_names() == ["out"]
        assert spec.params[-1].name == "repeat"
    assert set(doc.block_names()) == set(BUILTIN_CASES)


@pytest.mark.parametrize("name", BUILTIN_CASES)
@pytest.mark.parametrize("repeat", [1, 2])
def test_builtin_shape_rules_and_counts_agree_with_the_built_module(name, repeat):
    params, shapes = BUILTIN_CASES[name]
    for shape in shapes:
        if name == "MLPBlock" and repeat > 1 and shape[-1] != params["out_features"]:
            shape = (*shape[:-1], params["out_features"])  # repeat chains only a preserved width
        doc = use_doc(name, params, shape, repeat)
        report = check(doc)
        assert report.ok, report.errors
        node = report.networks["main"].nodes["encoder"]
        model = compile_network(doc).eval()
        with torch.no_grad():
            out = model(torch.randn(2, *shape))
        assert (2, *node.outputs["out"][1:]) == tuple(out.shape)
        assert node.parameters == sum(p.numel() for p in model.parameters()), (name, shape)


def test_parameter_count_is_inner_total_times_copies():
    one = check(use_doc("ResidualBlock", {"channels": 4}, (4, 6, 6))).networks["main"]
    four = check(use_doc("ResidualBlock", {"channels": 4}, (4, 6, 6), repeat=4)).networks["main"]
    assert four.nodes["encoder"].parameters == 4 * one.nodes["encoder"].parameters > 0


def test_repeat_chains_shapes_copy_by_copy():
    doc = use_doc("ConvBNReLU", {"out_channels": 6, "padding": 0}, (3, 10, 10), repeat=3)
    node = check(doc).networks["main"].nodes["encoder"]
    assert node.outputs["out"] == (None, 6, 4, 4)  # each 3×3 copy trims two pixels
    assert node.parameters == sum(p.numel() for p in compile_network(doc).parameters())


def test_repeat_reports_a_copy_whose_shape_does_not_chain():
    doc = use_doc("ConvBNReLU", {"out_channels": 6, "padding": 0}, (3, 5, 5), repeat=3)
    node = check(doc).networks["main"].nodes["encoder"]
    assert any("in copy 3 of 3" in e and "too small" in e for e in node.errors), node.errors


def test_repeat_refuses_a_composite_with_two_inputs():
    doc = Document()
    pair = doc.add_block("Pair")
    pair.add_node("Input", node_id="a")
    pair.add_node("Input", node_id="b")
    pair.add_node("Add", node_id="add")
    pair.add_node("Output", node_id="out")
    pair.connect("a.out", "add.a")
    pair.connect("b.out", "add.b")
    pair.connect("add.out", "out.in")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [3]}, node_id="x")
    net.add_node("Pair", {"repeat": 2}, node_id="p")
    net.add_node("Output", node_id="out")
    net.connect("x.out", "p.a")
    net.connect("x.out", "p.b")
    net.connect("p.out", "out.in")
    errors = check(doc).networks["main"].nodes["p"].errors
    assert errors == ["repeat needs one input and one output port; Pair has 2 and 1"]
    net.set_param("p", "repeat", None)
    assert check(doc).ok
    model = compile_network(doc)
    x = torch.randn(2, 3)
    assert torch.equal(model(x), x + x)


def _by_hand(copy: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """TransformerEncoderBlock's forward written out with its copy's own layers."""
    attention, _ = copy.attention(x, x, x)
    h = copy.norm1(x + attention)
    return copy.norm2(h + copy.ff2(torch.relu(copy.ff1(h))))


def test_repeated_composite_compiles_to_a_sequential_of_graph_modules():
    params = {"d_model": 16, "num_heads": 2, "dim_feedforward": 24}
    model = compile_network(use_doc("TransformerEncoderBlock", params, (5, 16), repeat=3)).eval()
    assert isinstance(model.encoder, torch.nn.Sequential) and len(model.encoder) == 3
    assert type(model.encoder[0]).__name__ == "TransformerEncoderBlock"
    keys = list(model.state_dict())
    assert "encoder.0.attention.in_proj_weight" in keys and "encoder.2.norm2.bias" in keys
    assert "self.encoder(x)" in model.code
    x = torch.randn(2, 5, 16)
    expected = x
    with torch.no_grad():
        for copy in model.encoder:
            expected = _by_hand(copy, expected)
        assert torch.allclose(model(x), expected, atol=1e-6)
    weights = [model.encoder[i].ff1.weight for i in range(3)]
    assert not torch.equal(weights[0], weights[1])  # each copy has its own weights


def test_the_engine_package_exports_the_composite_api():
    import engine

    doc = Document()
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [4]}, node_id="x")
    net.add_node("Linear", {"out_features": 4}, node_id="fc")
    net.add_node("Output", node_id="y")
    net.connect("x.out", "fc.in")
    net.connect("fc.out", "y.in")
    regroup = engine.group(doc, "main", ["fc"], "Unit")
    assert isinstance(regroup, engine.Regroup)
    regroup.redo()
    assert engine.is_composite(doc.resolve_block("Unit"))
    assert engine.use_shapes(doc, "Unit") == {"in": (None, 4)}
    assert engine.check(doc).ok
