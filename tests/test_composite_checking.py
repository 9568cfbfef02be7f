"""Checking composites: inner errors, nesting, cycles, fresh shapes after edits, torch-free."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.cli import main as cli_main
from engine.composites import InnerError, definition_checker, use_shapes
from engine.document import Document
from engine.errors import EditError
from engine.readwrite import save_document
from engine.shapes import NetworkChecker, check
from tests.conftest import ROOT


def residual_use(channels_in: int = 8, channels: int = 8) -> Document:
    doc = Document("r")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [channels_in, 6, 6]}, node_id="x")
    net.add_node("ResidualBlock", {"channels": channels}, node_id="stage")
    net.add_node("Output", node_id="out")
    net.connect("x.out", "stage.in")
    net.connect("stage.out", "out.in")
    return doc


def nested_doc() -> Document:
    """`Outer` uses `Inner` (a Linear with exposed width) twice in a row."""
    doc = Document("n")
    inner = doc.add_block("Inner")
    inner.add_node("Input", node_id="in")
    inner.add_node("Linear", {"out_features": 4}, node_id="fc")
    inner.add_node("Output", node_id="out")
    inner.connect("in.out", "fc.in")
    inner.connect("fc.out", "out.in")
    outer = doc.add_block("Outer")
    outer.add_node("Input", node_id="in")
    outer.add_node("Inner", node_id="a")
    outer.add_node("Inner", node_id="b")
    outer.add_node("Output", node_id="out")
    for source, target in [("in.out", "a.in"), ("a.out", "b.in"), ("b.out", "out.in")]:
        outer.connect(source, target)
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [3]}, node_id="x")
    net.add_node("Outer", node_id="o")
    net.add_node("Output", node_id="y")
    net.connect("x.out", "o.in")
    net.connect("o.out", "y.in")
    return doc


def test_an_error_inside_names_the_block_and_the_inner_node():
    report = check(residual_use(channels_in=3, channels=8)).networks["main"].nodes["stage"]
    assert report.errors == [e.line() for e in report.inner_errors]
    first = report.inner_errors[0]
    assert first == InnerError("ResidualBlock", "add", first.message, ("ResidualBlock",), "Add")
    assert report.errors[0].startswith("inside ResidualBlock: add (Add): ")
    assert "N×8×6×6" in first.message and "N×3×6×6" in first.message
    assert report.outputs == {}  # downstream gets no shape


def test_errors_from_a_nested_composite_carry_the_chain():
    doc = nested_doc()
    assert check(doc).ok
    doc.blocks["Inner"].set_param("fc", "out_features", 0)
    report = check(doc).networks["main"].nodes["o"]
    assert {(e.block, e.node_id, e.path) for e in report.inner_errors} == {
        ("Inner", "fc", ("Outer", "Inner"))}
    assert report.errors[0].startswith("inside Outer > Inner: fc (Linear): out_features must be")


def test_a_definition_cannot_use_itself_directly_or_not():
    doc = nested_doc()
    with pytest.raises(EditError, match="Inner -> Inner"):
        doc.blocks["Inner"].add_node("Inner")
    with pytest.raises(EditError, match="Inner -> Outer -> Inner"):
        doc.blocks["Inner"].add_node("Outer")


def test_a_cycle_slipped_in_by_code_is_a_check_error_naming_it():
    doc = nested_doc()
    inner = doc.blocks["Inner"]
    inner.is_definition = False  # bypass the edit-time refusal, as a buggy script might
    inner.add_node("Outer", node_id="loop")
    inner.is_definition = True
    errors = check(doc).networks["main"].nodes["o"].errors
    assert any("uses itself" in e and "Outer -> Inner -> Outer" in e for e in errors), errors


def test_editing_a_definition_updates_the_uses_shapes_at_once():
    doc = nested_doc()
    net = doc.network("main")
    checker = NetworkChecker(net, dict)
    assert checker.report().nodes["o"].outputs == {"out": (None, 4)}
    doc.blocks["Inner"].set_param("fc", "out_features", 7)
    assert checker.report().nodes["o"].outputs == {"out": (None, 7)}
    assert checker.report().edges  # the edges to the Output carry the new shape too
    doc.blocks["Inner"].set_param("fc", "out_features", 4)
    assert checker.report().nodes["o"].outputs == {"out": (None, 4)}
    checker.close()


def test_exposed_values_reach_the_targets_and_their_counts():
    doc = residual_use(channels_in=5, channels=5)
    node = check(doc).networks["main"].nodes["stage"]
    conv = 5 * 5 * 9  # no bias
    assert node.parameters == 2 * conv + 2 * (2 * 5)
    assert node.outputs == {"out": (None, 5, 6, 6)}


def test_document_events_fire_for_edits_inside_definitions():
    doc = nested_doc()
    seen = []
    doc.changed.sub(lambda: seen.append("changed"))
    doc.blocks_changed.sub(lambda: seen.append("blocks"))
    doc.blocks["Inner"].set_param("fc", "out_features", 9)
    assert seen == ["changed"]
    doc.blocks["Inner"].add_node("Input", node_id="extra")  # a new port
    assert "blocks" in seen
    assert doc.resolve_block("Inner").input_names() == ["in", "extra"]


def test_remove_block_refuses_while_used_and_copy_keeps_blocks():
    doc = nested_doc()
    with pytest.raises(EditError, match="still used by Outer.a, Outer.b"):
        doc.remove_block("Inner")
    twin = doc.copy()
    assert list(twin.blocks) == ["Inner", "Outer"]
    assert twin.blocks["Inner"] is not doc.blocks["Inner"]
    twin.blocks["Inner"].set_param("fc", "out_features", 2)
    assert check(twin).networks["main"].nodes["o"].outputs == {"out": (None, 2)}
    assert check(doc).networks["main"].nodes["o"].outputs == {"out": (None, 4)}


def test_use_shapes_and_the_definition_checker_see_the_first_use():
    doc = nested_doc()
    assert use_shapes(doc, "Outer") == {"in": (None, 3)}
    assert use_shapes(doc, "Inner") == {"in": (None, 3)}  # found through Outer's use
    assert use_shapes(doc, "MLPBlock") is None
    checker = definition_checker(doc, "Outer")
    report = checker.report()
    assert report.ok and report.nodes["b"].outputs == {"out": (None, 4)}
    doc.blocks["Outer"].set_param("b", "repeat", 2)
    assert checker.report().nodes["b"].parameters == 2 * (4 * 4 + 4)
    checker.close()
    unused = definition_checker(doc, "MLPBlock").report()
    assert any("no shape" in e for e in unused.nodes["in"].errors)


def test_cli_check_prints_the_inner_error(tmp_path, capsys):
    path = tmp_path / "bad.json"
    save_document(residual_use(channels_in=3), path)
    assert cli_main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "inside ResidualBlock: add (Add): Add needs matching shapes" in out


PROBE = """
import sys
from engine.composites.builtin import builtin_blocks
from engine.document import Document
from engine.shapes import check
counts = {}
for name, shape in {"ConvBNReLU": [3, 8, 8], "ResidualBlock": [16, 8, 8],
                    "TransformerEncoderBlock": [5, 64], "MLPBlock": [64]}.items():
    doc = Document()
    net = doc.add_network("main")
    net.add_node("Input", {"shape": shape}, node_id="x")
    net.add_node(name, {"repeat": 3}, node_id="b")
    net.add_node("Output", node_id="y")
    net.connect("x.out", "b.in")
    net.connect("b.out", "y.in")
    report = check(doc)
    assert report.ok, report.errors
    counts[name] = report.networks["main"].parameters
assert "torch" not in sys.modules, "checking a composite imported torch"
print(counts)
"""


def test_checking_composites_never_imports_torch():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.replace("'", '"'))
    d, ff = 64, 256
    encoder = (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d) + 2 * 2 * d
    assert counts["TransformerEncoderBlock"] == 3 * encoder
    assert counts["MLPBlock"] == 3 * (64 * 64 + 64)


def test_set_block_info_changes_the_exposed_params_of_every_use():
    from engine.composites import ExposedParam

    doc = nested_doc()
    seen = []
    doc.blocks_changed.sub(lambda: seen.append("blocks"))
    width = ExposedParam("width", "int", 6, "fc width", ["fc.out_features"], min=1)
    old = doc.set_block_info("Inner", doc="one layer", exposed=[width])
    assert old == ("", []) and seen == ["blocks"]
    spec = doc.resolve_block("Inner")
    assert spec.doc == "one layer" and [p.name for p in spec.params] == ["width", "repeat"]
    assert check(doc).networks["main"].nodes["o"].outputs == {"out": (None, 6)}
    doc.blocks["Outer"].set_param("b", "width", 2)
    assert check(doc).networks["main"].nodes["o"].outputs == {"out": (None, 2)}
    with pytest.raises(EditError, match=r"params\[0\].targets\[0\]: no node 'gone'"):
        doc.set_block_info("Inner", exposed=[ExposedParam("w", "int", 1, "", ["gone.x"])])
    doc.set_block_info("Inner", *old)  # an undo puts the old ones back
    assert doc.blocks["Inner"].exposed == [] and doc.blocks["Inner"].doc == ""


def test_a_repeat_out_of_range_is_a_parameter_error_on_the_node():
    doc = nested_doc()
    doc.network("main").set_param("o", "repeat", 0)
    errors = check(doc).networks["main"].nodes["o"].errors
    assert errors == ["repeat must be ≥ 1, got 0"]
