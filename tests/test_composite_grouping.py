"""Group and ungroup: ports from the crossing edges, exact undo, repeat inlined."""

from __future__ import annotations

import pytest
import torch

from engine.compiler import compile_network
from engine.composites import group, suggest_block_name, ungroup
from engine.document import Document
from engine.errors import EditError
from engine.readwrite import document_to_dict
from engine.shapes import check


def skip_doc() -> Document:
    """x -> fc1 -> act -> fc2 -> add(a) -> out, with x also feeding add.b (a skip)."""
    doc = Document("g")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [8]}, (0, 0), "x")
    net.add_node("Linear", {"out_features": 16}, (200, 10), "fc1")
    net.add_node("ReLU", {}, (400, 20), "act")
    net.add_node("Linear", {"out_features": 8, "bias": False}, (600, 30), "fc2")
    net.add_node("Add", {}, (800, 0), "add")
    net.add_node("Output", {}, (1000, 0), "out")
    for source, target in [("x.out", "fc1.in"), ("fc1.out", "act.in"), ("act.out", "fc2.in"),
                           ("fc2.out", "add.a"), ("x.out", "add.b"), ("add.out", "out.in")]:
        net.connect(source, target)
    return doc


def test_group_makes_ports_from_crossing_edges_and_keeps_shapes():
    doc = skip_doc()
    before = check(doc).networks["main"]
    regroup = group(doc, "main", ["fc1", "act", "fc2"], "Mlp")
    assert "Mlp" not in doc.blocks  # computed, not applied
    regroup.redo()
    net = doc.network("main")
    (node_id,) = regroup.node_ids
    assert list(net.nodes) == ["x", node_id, "add", "out"]
    definition = doc.blocks["Mlp"]
    assert [n.block for n in definition.nodes.values()] == ["Input", "Linear", "ReLU", "Linear",
                                                            "Output"]
    assert net.nodes[node_id].spec.output_names() == ["out"]
    after = check(doc).networks["main"]
    assert after.ok, after.errors
    assert after.nodes["add"].inputs == before.nodes["add"].inputs
    assert after.parameters == before.parameters
    model = compile_network(doc)
    assert "mlp_1.fc1.weight" in model.state_dict()


def test_group_then_ungroup_then_undo_redo_restores_the_exact_record():
    doc = skip_doc()
    original = document_to_dict(doc)
    grouped = group(doc, "main", ["act", "fc1", "fc2"], "Mlp")
    grouped.redo()
    grouped_record = document_to_dict(doc)
    node_id = grouped.node_ids[0]
    inlined = ungroup(doc, "main", node_id)
    inlined.redo()
    assert check(doc).ok
    assert sorted(doc.network("main").nodes) == sorted(["x", "fc1", "act", "fc2", "add", "out"])
    inlined.undo()
    assert document_to_dict(doc) == grouped_record
    grouped.undo()
    assert document_to_dict(doc) == original
    assert doc.blocks == {}
    grouped.redo()
    assert document_to_dict(doc) == grouped_record
    inlined.redo()
    inlined.undo()
    grouped.undo()
    assert document_to_dict(doc) == original


def test_group_with_two_sources_and_two_outputs():
    doc = skip_doc()
    net = doc.network("main")
    regroup = group(doc, "main", ["fc2", "add"], "Tail")
    regroup.redo()
    spec = net.nodes[regroup.node_ids[0]].spec
    assert [p.name for p in spec.inputs] == ["in_1", "in_2"]  # act.out and x.out
    assert spec.output_names() == ["out"]
    assert check(doc).ok
    regroup.undo()
    net.add_node("Output", node_id="hidden")
    net.connect("fc1.out", "hidden.in")  # fc1 and act both leave the selection
    two_out = group(doc, "main", ["fc1", "act"], "Two")
    two_out.redo()
    assert net.nodes[two_out.node_ids[0]].spec.output_names() == ["out_1", "out_2"]
    assert check(doc).ok
    x = torch.randn(3, 8)
    model = compile_network(doc)
    result, hidden = model(x)
    assert result.shape == (3, 8) and hidden.shape == (3, 16)
    assert torch.equal(hidden, model.two_1.fc1(x))


@pytest.mark.parametrize("ids, words", [
    (["x", "fc1"], "Input and Output blocks cannot go into a group"),
    (["fc1", "fc2"], "cycle through the group via act"),
    ([], "select the blocks"),
    (["nope"], "no node 'nope'"),
])
def test_group_refuses_with_the_reason(ids, words):
    with pytest.raises(EditError, match=words):
        group(skip_doc(), "main", ids, "Mlp")


def test_group_refuses_a_bad_or_taken_name():
    doc = skip_doc()
    with pytest.raises(EditError, match="CamelCase"):
        group(doc, "main", ["fc1"], "mlp")
    with pytest.raises(EditError, match="catalogue"):
        group(doc, "main", ["fc1"], "Linear")
    group(doc, "main", ["fc1"], "Mlp").redo()
    with pytest.raises(EditError, match="already exists"):
        group(doc, "main", ["fc2"], "Mlp")
    assert suggest_block_name(doc) == "Block1"


def test_ungroup_of_a_repeated_node_inlines_copies_with_the_same_function():
    doc = Document()
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [6]}, node_id="x")
    net.add_node("MLPBlock", {"out_features": 6, "repeat": 3}, node_id="mlp")
    net.add_node("Output", node_id="out")
    net.connect("x.out", "mlp.in")
    net.connect("mlp.out", "out.in")
    model = compile_network(doc).eval()
    record = document_to_dict(doc)
    regroup = ungroup(doc, "main", "mlp")
    regroup.redo()
    assert len(regroup.node_ids) == 9 and len(set(regroup.node_ids)) == 9
    fcs = [n for n in regroup.node_ids if net.nodes[n].block == "Linear"]
    assert all(net.nodes[n].params["out_features"] == 6 for n in fcs)
    report = check(doc)
    assert report.ok, report.errors
    flat = compile_network(doc).eval()
    state = {}
    for k, fc in enumerate(fcs):
        state[f"{fc}.weight"] = model.mlp[k].fc.weight
        state[f"{fc}.bias"] = model.mlp[k].fc.bias
    flat.load_state_dict(state)
    x = torch.randn(4, 6)
    with torch.no_grad():
        assert torch.allclose(flat(x), model(x))
    regroup.undo()
    assert document_to_dict(doc) == record


def test_ungroup_refuses_a_catalogue_block():
    with pytest.raises(EditError, match="not a composite"):
        ungroup(skip_doc(), "main", "fc1")
