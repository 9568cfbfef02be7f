"""The checker's report: shapes on edges, and errors a person can act on, named by node.

The editor marks nodes in place with these messages and training refuses to
start while any remain, so each must name the node and say what to change;
and the incremental checker the editor runs on every edit must never drift
from a fresh check.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.blocks import CATALOGUE
from engine.document import Document, Edge, Network
from engine.readwrite import parse_document
from engine.shapes import NetworkChecker, NetworkReport, check


def network(*nodes: tuple, edges: tuple[str, ...] = ()) -> tuple[Document, Network]:
    """nodes as (id, block, params); edges as "a.out->b.in"."""
    doc = Document("t")
    net = doc.add_network("main")
    for node_id, block, *params in nodes:
        net.add_node(block, params[0] if params else {}, node_id=node_id)
    for edge in edges:
        source, target = edge.split("->")
        net.connect(source, target)
    return doc, net


def errors_of(doc: Document, node_id: str) -> list[str]:
    return check(doc).networks["main"].nodes[node_id].errors


def line_for(doc: Document, node_id: str) -> str:
    """The one line of `report.errors` about a node: what the CLI and the trainer print."""
    lines = [e for e in check(doc).errors if e.startswith(f"main.{node_id} ")]
    assert len(lines) == 1, check(doc).errors
    return lines[0]


def test_lenet_shapes_on_every_edge():
    doc, net = network(
        ("x", "Input", {"shape": [1, 28, 28]}), ("conv1", "Conv2d", {"out_channels": 20, "kernel_size": 5}),
        ("pool1", "MaxPool2d"), ("conv2", "Conv2d", {"out_channels": 50, "kernel_size": 5}),
        ("pool2", "MaxPool2d"), ("flat", "Flatten"), ("fc1", "Linear", {"out_features": 500}),
        ("fc2", "Linear", {"out_features": 10}), ("out", "Output"),
        edges=("x.out->conv1.in", "conv1.out->pool1.in", "pool1.out->conv2.in", "conv2.out->pool2.in",
               "pool2.out->flat.in", "flat.out->fc1.in", "fc1.out->fc2.in", "fc2.out->out.in"),
    )
    report = check(doc)
    assert report.ok and report.errors == []
    shapes = {str(e): s for e, s in report.networks["main"].edges.items()}
    assert shapes["conv1.out -> pool1.in"] == (None, 20, 24, 24)
    assert shapes["pool2.out -> flat.in"] == (None, 50, 4, 4)
    assert shapes["flat.out -> fc1.in"] == (None, 800)
    main = report.networks["main"]
    assert main.parameters == 431_080
    assert main.nodes["conv1"].inputs == {"in": (None, 1, 28, 28)}
    assert main.nodes["conv1"].macs == 20 * 24 * 24 * 25
    assert main.nodes["fc1"].macs == 800 * 500


def test_input_takes_its_shape_from_the_dataset():
    doc, net = network(("x", "Input"), ("fc", "Linear", {"out_features": 3}), ("out", "Output"),
                       edges=("x.out->fc.in", "fc.out->out.in"))
    doc.training = {"dataset": {"name": "iris"}}
    report = check(doc)
    assert report.ok, report.errors
    assert report.networks["main"].nodes["x"].outputs["out"] == (None, 4)
    net.set_param("x", "shape", [7])  # an explicit shape wins over the dataset
    assert check(doc).networks["main"].nodes["fc"].inputs["in"] == (None, 7)
    net.set_param("x", "batched", False)
    assert check(doc).networks["main"].nodes["fc"].inputs["in"] == (7,)


def test_input_without_a_shape_says_how_to_give_one():
    doc, _ = network(("x", "Input"), ("out", "Output"), edges=("x.out->out.in",))
    message = line_for(doc, "x")
    assert "no shape for source 'x'" in message and "shape parameter" in message


def test_unknown_dataset_is_an_error_on_the_input_not_a_crash():
    doc, _ = network(("x", "Input"), ("out", "Output"), edges=("x.out->out.in",))
    doc.training = {"dataset": {"name": "no_such_dataset"}}
    assert "no_such_dataset" in line_for(doc, "x")


def test_conv2d_fed_a_2d_tensor():
    doc, _ = network(("x", "Input", {"shape": [32]}), ("conv", "Conv2d"), ("out", "Output"),
                     edges=("x.out->conv.in", "conv.out->out.in"))
    message = line_for(doc, "conv")
    assert message.startswith("main.conv (Conv2d): ")
    assert "Conv2d expects N×C×H×W on 'in', got N×32" in message and "Reshape" in message
    assert check(doc).networks["main"].nodes["out"].errors == []  # reported once, at the source


def test_mismatched_add():
    doc, _ = network(("x", "Input", {"shape": [8]}), ("fc", "Linear", {"out_features": 4}),
                     ("add", "Add"), ("out", "Output"),
                     edges=("x.out->fc.in", "x.out->add.a", "fc.out->add.b", "add.out->out.in"))
    message = line_for(doc, "add")
    assert "main.add (Add)" in message and "a: N×8" in message and "b: N×4" in message


def test_mismatched_concat():
    doc, _ = network(("x", "Input", {"shape": [3, 8, 8]}), ("conv", "Conv2d", {"kernel_size": 3}),
                     ("cat", "Concat"), ("out", "Output"),
                     edges=("x.out->conv.in", "x.out->cat.a", "conv.out->cat.b", "cat.out->out.in"))
    message = line_for(doc, "cat")
    assert "other axes equal" in message and "N×3×8×8" in message and "N×16×6×6" in message


def test_unconnected_required_port():
    doc, _ = network(("x", "Input", {"shape": [4]}), ("add", "Add"), ("graph", "GraphConv"),
                     ("out", "Output"), edges=("x.out->add.a", "add.out->out.in"))
    assert "input 'b' is not connected" in line_for(doc, "add")
    assert errors_of(doc, "graph") == ["input 'adjacency' is not connected",
                                       "input 'features' is not connected"]


def test_unconnected_output_block():
    doc, _ = network(("x", "Input", {"shape": [4]}), ("out", "Output"))
    assert "input 'in' is not connected" in line_for(doc, "out")


def test_optional_attention_ports_fall_back():
    doc, _ = network(("x", "Input", {"shape": [5, 8]}), ("attn", "MultiheadAttention", {"num_heads": 2}),
                     ("out", "Output"), ("w", "Output"),
                     edges=("x.out->attn.query", "attn.out->out.in", "attn.weights->w.in"))
    report = check(doc)
    assert report.ok, report.errors
    attn = report.networks["main"].nodes["attn"]
    assert attn.inputs == {"query": (None, 5, 8), "key": (None, 5, 8), "value": (None, 5, 8)}
    assert attn.outputs == {"out": (None, 5, 8), "weights": (None, 5, 5)}


CYCLE_FILE = {
    "format": "netcanvas", "version": 1,
    "networks": {"main": {
        "nodes": [{"id": "x", "block": "Input", "params": {"shape": [4]}},
                  {"id": "add", "block": "Add"}, {"id": "fc", "block": "Linear", "params": {"out_features": 4}},
                  {"id": "act", "block": "Tanh"}, {"id": "after", "block": "ReLU"},
                  {"id": "out", "block": "Output"}],
        "edges": [{"from": "x.out", "to": "add.a"}, {"from": "act.out", "to": "add.b"},
                  {"from": "add.out", "to": "fc.in"}, {"from": "fc.out", "to": "act.in"},
                  {"from": "act.out", "to": "after.in"}, {"from": "after.out", "to": "out.in"}],
    }},
}


def test_cycle_loaded_from_a_file_names_its_nodes():
    doc = parse_document(json.dumps(CYCLE_FILE), "cycle.json")
    report = check(doc)
    main = report.networks["main"]
    assert main.nodes["add"].errors == ["part of a cycle: add -> fc -> act -> add"]
    assert main.nodes["fc"].errors == ["part of a cycle: fc -> act -> add -> fc"]
    assert main.nodes["act"].errors == ["part of a cycle: act -> add -> fc -> act"]
    assert main.nodes["after"].errors == [] and main.nodes["out"].errors == []  # downstream only
    assert main.nodes["x"].outputs == {"out": (None, 4)}  # upstream still has its shapes
    assert len(report.errors) == 3 and all("part of a cycle" in e for e in report.errors)


def test_self_loop_is_a_cycle_not_a_crash():
    record = json.loads(json.dumps(CYCLE_FILE))
    record["networks"]["main"]["edges"][1] = {"from": "add.out", "to": "add.b"}
    report = check(parse_document(json.dumps(record)))
    assert report.networks["main"].nodes["add"].errors == ["part of a cycle: add -> add"]
    assert [e for e in report.errors if "cycle" in e] == ["main.add (Add): part of a cycle: add -> add"]


def test_unknown_parameter_and_out_of_range_value():
    doc, net = network(("x", "Input", {"shape": [3, 8, 8]}), ("conv", "Conv2d"), ("out", "Output"),
                       edges=("x.out->conv.in", "conv.out->out.in"))
    net.set_param("conv", "groups", 2)
    assert "unknown parameter 'groups' (known: out_channels, kernel_size" in line_for(doc, "conv")
    net.set_param("conv", "groups", None)
    net.set_param("conv", "stride", 0)
    assert "main.conv (Conv2d): stride must be ≥ 1, got 0" == line_for(doc, "conv")
    net.set_param("conv", "stride", "2")
    assert "stride: expected an integer, got '2'" in line_for(doc, "conv")
    net.set_param("conv", "stride", None)
    net.add_node("Dropout", {"p": 1.5}, node_id="drop")
    assert "p must be ≤ 1, got 1.5" in errors_of(doc, "drop")


def test_kernel_larger_than_the_input():
    doc, _ = network(("x", "Input", {"shape": [1, 4, 4]}), ("conv", "Conv2d", {"kernel_size": 5}),
                     ("out", "Output"), edges=("x.out->conv.in", "conv.out->out.in"))
    assert "the input is too small: length 4 with kernel 5" in line_for(doc, "conv")


def test_linear_on_an_image_is_a_warning_not_an_error():
    doc, _ = network(("x", "Input", {"shape": [3, 8, 8]}), ("fc", "Linear", {"out_features": 5}),
                     ("out", "Output"), edges=("x.out->fc.in", "fc.out->out.in"))
    report = check(doc)
    assert report.ok
    fc = report.networks["main"].nodes["fc"]
    assert fc.outputs == {"out": (None, 3, 8, 5)}
    assert len(fc.warnings) == 1 and "Flatten" in fc.warnings[0] and "N×3×8×8" in fc.warnings[0]


def test_network_level_problems():
    doc, _ = network(("fc", "Linear"))
    report = check(doc)
    assert report.networks["main"].problems == ["no Input block: nothing feeds the network",
                                                "no Output block: the network returns nothing"]
    assert "main: no Input block: nothing feeds the network" in report.errors
    assert not report.ok
    empty = check(Document("e"))
    assert empty.errors == ["the document has no network"]


def test_several_networks_are_checked_apart():
    doc = Document()
    for name, width in (("generator", 16), ("discriminator", 8)):
        net = doc.add_network(name)
        net.add_node("Input", {"shape": [width]}, node_id="x")
        net.add_node("Linear", {"out_features": 2}, node_id="fc")
        net.add_node("Output", node_id="out")
        net.connect("x.out", "fc.in")
        net.connect("fc.out", "out.in")
    report = check(doc)
    assert report.networks["generator"].parameters == 16 * 2 + 2
    assert report.networks["discriminator"].parameters == 8 * 2 + 2
    doc.network("generator").set_param("fc", "out_features", 0)
    assert check(doc).errors == ["generator.fc (Linear): out_features must be ≥ 1, got 0"]


def test_edits_on_the_checked_network_reach_a_live_checker():
    doc, net = network(("x", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 3}),
                       ("relu", "ReLU"), ("out", "Output"),
                       edges=("x.out->fc.in", "fc.out->relu.in", "relu.out->out.in"))
    checker = NetworkChecker(net, dict)
    assert checker.report().nodes["relu"].outputs == {"out": (None, 3)}
    net.set_param("fc", "out_features", 9)
    assert checker.report().nodes["relu"].outputs == {"out": (None, 9)}
    net.set_param("x", "shape", [2, 2])
    assert checker.report().nodes["out"].inputs == {"in": (None, 2, 9)}
    checker.close()
    net.set_param("fc", "out_features", 1)  # no longer observed: the report stays as it was
    assert checker.report().nodes["relu"].outputs == {"out": (None, 2, 9)}


# ---- the incremental checker equals a fresh check -----------------------------------------

EDIT_BLOCKS = {
    "Linear": {"out_features": [2, 3, 4, 0]},
    "ReLU": {},
    "Dropout": {"p": [0.1, 0.5, 2.0]},
    "Add": {},
    "Concat": {"dim": [1, -1, 5]},
    "Flatten": {"start_dim": [1, 2]},
    "Conv1d": {"out_channels": [2, 3], "kernel_size": [1, 2, 9]},
    "Softmax": {"dim": [1, -1, 3]},
    "LSTM": {"hidden_size": [2, 3]},
    "Reshape": {"shape": [[-1], [2, -1], [3, 3]]},
}


def comparable(report: NetworkReport) -> Any:
    nodes = {n: (r.block, r.inputs, r.outputs, r.parameters, r.macs, r.errors, r.warnings)
             for n, r in report.nodes.items()}
    edges = {str(e): s for e, s in report.edges.items()}
    return nodes, edges, report.problems


def random_edits(net: Network, rng: random.Random, steps: int, after_each) -> None:
    removed: list = []
    for _ in range(steps):
        roll = rng.random()
        ids = list(net.nodes)
        if roll < 0.15:
            net.add_node(rng.choice(list(EDIT_BLOCKS)))
        elif roll < 0.45:
            src, dst = rng.choice(ids), rng.choice(ids)
            spec = net.nodes[dst].spec
            ports = [p.name for p in spec.inputs] + (["c"] if spec.variadic else [])
            outs = net.nodes[src].spec.output_names()
            if ports and outs:
                source, target = f"{src}.{rng.choice(outs)}", f"{dst}.{rng.choice(ports)}"
                if net.can_connect(source, target) is None:
                    net.connect(source, target)
        elif roll < 0.5 and net.edges:
            net.disconnect(rng.choice(net.edges))
        elif roll < 0.57 and len(ids) > 3:
            node_id = rng.choice([n for n in ids if n not in ("x", "out")])
            removed.append(net.remove_node(node_id))
        elif roll < 0.6 and removed:
            node, edges = removed.pop()
            if node.id not in net.nodes:
                net.restore_node(node)
                for edge in edges:
                    if (net.can_connect(edge.source, edge.target) is None
                            and edge.dst_port not in net.incoming(edge.dst)):
                        net.add_edge(edge)
        else:
            node = net.nodes[rng.choice(ids)]
            choices = EDIT_BLOCKS.get(node.block)
            if node.block == "Input":
                net.set_param(node.id, "shape", rng.choice([[4], [3, 4], [2, 3, 4], [0]]))
            elif choices:
                name = rng.choice(list(choices))
                net.set_param(node.id, name, rng.choice(choices[name] + [None]))
        after_each()


@pytest.mark.parametrize("seed", range(8))
def test_incremental_checker_equals_a_fresh_check(seed: int):
    rng = random.Random(seed)
    doc, net = network(("x", "Input", {"shape": [3, 4]}), ("fc", "Linear", {"out_features": 4}),
                       ("out", "Output"), edges=("x.out->fc.in", "fc.out->out.in"))
    live = NetworkChecker(net, dict)
    live.report()
    asked = {"n": 0}

    def compare() -> None:
        if rng.random() < 0.5:  # the editor asks after most edits, not always
            return
        asked["n"] += 1
        fresh = NetworkChecker(net, dict)
        assert comparable(live.report()) == comparable(fresh.report())
        fresh.close()

    random_edits(net, rng, 150, compare)
    assert asked["n"] > 30
    fresh = NetworkChecker(net, dict)
    assert comparable(live.report()) == comparable(fresh.report())


def test_incremental_checker_follows_a_cycle_made_and_broken():
    doc = parse_document(json.dumps(CYCLE_FILE))
    net = doc.network("main")
    live = NetworkChecker(net, dict)
    assert live.report().nodes["fc"].errors
    net.disconnect(Edge("act", "out", "add", "b"))
    net.connect("x.out", "add.b")
    report = live.report()
    assert report.ok and report.nodes["out"].inputs == {"in": (None, 4)}
    net.disconnect(Edge("x", "out", "add", "b"))
    net.add_edge(Edge("act", "out", "add", "b"))  # undo puts the cycle back
    assert comparable(live.report()) == comparable(NetworkChecker(net, dict).report())


# ---- whatever the parameters, checking reports and never raises --------------------------

any_value = st.one_of(st.none(), st.booleans(), st.integers(-3, 5000), st.floats(allow_nan=True),
                      st.text(max_size=4), st.lists(st.integers(-2, 40), max_size=4))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=st.sampled_from(sorted(n for n in CATALOGUE if n not in ("Input", "Output"))),
       values=st.dictionaries(st.sampled_from(["out_features", "kernel_size", "stride", "padding",
                                                "dim", "shape", "num_heads", "hidden_size",
                                                "scale_factor", "mode", "p", "start_dim", "bias",
                                                "nhead", "max_len", "whatever"]),
                              any_value, max_size=3),
       shape=st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_check_never_raises(block: str, values: dict, shape: list[int]):
    doc, net = network(("x", "Input", {"shape": shape}), ("b", block, values), ("out", "Output"))
    spec = net.nodes["b"].spec
    for port in spec.inputs:
        net.connect("x.out", f"b.{port.name}")
    if spec.outputs:
        net.connect(f"b.{spec.outputs[0].name}", "out.in")
    report = check(doc)
    node = report.networks["main"].nodes["b"]
    assert node.errors or node.outputs  # either a shape or a reason, never silence
    for message in report.errors:
        assert message.startswith("main.")


def test_engine_check_is_the_public_entry():
    assert engine.check is check


def test_the_benchmark_graph_checks_clean():
    """benchmarks/shapes_benchmark.py must keep building a valid graph as blocks evolve."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "shapes_benchmark.py"
    spec = importlib.util.spec_from_file_location("shapes_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = Document("bench")
    net = module.build_network(doc, 120)
    assert len(net.nodes) == 120
    report = check(doc)
    assert report.ok, report.errors
    assert {n.block for n in net.nodes.values()} >= {"Conv2d", "Add", "MultiheadAttention", "LSTM"}


def test_a_failing_dataset_lookup_is_an_error_on_the_input():
    """Whatever the dataset code raises, the editor shows it on the Input and carries on."""
    doc, net = network(("x", "Input"), ("out", "Output"), edges=("x.out->out.in",))

    def broken() -> dict:
        raise ValueError("image_size must be an integer")

    report = NetworkChecker(net, broken).report()
    assert report.nodes["x"].errors == [
        "the dataset's shapes could not be read: ValueError: image_size must be an integer"]
