"""File format v2: composite `blocks`, the v1 migration, and hostile block sections."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import readwrite
from engine.errors import DocumentError
from engine.presets import PRESETS_DIR
from engine.readwrite import document_to_dict, document_to_json, parse_document
from engine.shapes import check
from tests.helpers import json_paths

PRESETS = sorted(PRESETS_DIR.glob("*.json"))


def residual_record(channels: int = 8) -> dict:
    """A v2 document defining a small residual block and using it twice."""
    return {
        "format": "netcanvas", "version": 2, "name": "res",
        "blocks": {"Res": {
            "doc": "conv + skip",
            "params": [{"name": "channels", "kind": "int", "default": channels, "min": 1,
                        "doc": "width", "targets": ["conv.out_channels"]}],
            "nodes": [{"id": "in", "block": "Input", "params": {}, "pos": [0, 0]},
                      {"id": "conv", "block": "Conv2d", "params": {"padding": 1}, "pos": [1, 0]},
                      {"id": "add", "block": "Add", "params": {}, "pos": [2, 0]},
                      {"id": "out", "block": "Output", "params": {}, "pos": [3, 0]}],
            "edges": [{"from": "in.out", "to": "conv.in"}, {"from": "conv.out", "to": "add.a"},
                      {"from": "in.out", "to": "add.b"}, {"from": "add.out", "to": "out.in"}],
        }},
        "networks": {"main": {"nodes": [
            {"id": "x", "block": "Input", "params": {"shape": [channels, 6, 6]}, "pos": [0, 0]},
            {"id": "stage", "block": "Res", "params": {"repeat": 2}, "pos": [1, 0]},
            {"id": "out", "block": "Output", "params": {}, "pos": [2, 0]}],
            "edges": [{"from": "x.out", "to": "stage.in"}, {"from": "stage.out", "to": "out.in"}]}},
        "training": {},
    }


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_loads_saves_as_v2_and_reloads_equal(path: Path):
    doc = readwrite.load_json_document(path)
    record = document_to_dict(doc)
    assert record["version"] == 2 and "blocks" in record
    again = parse_document(document_to_json(doc), "again.json")
    assert document_to_dict(again) == record
    raw = json.loads(path.read_text("utf-8"))
    if raw.get("version", 1) == 1:  # the migration changes nothing but the version and blocks
        assert record["networks"] == {
            n: document_to_dict(parse_document(json.dumps(raw)))["networks"][n] for n in raw["networks"]}
        assert record["blocks"] == {}


def test_v2_blocks_round_trip_exactly():
    record = residual_record()
    doc = parse_document(json.dumps(record), "res.json")
    assert list(doc.blocks) == ["Res"]
    definition = doc.blocks["Res"]
    assert definition.name == "Res" and definition.doc == "conv + skip"
    assert [e.name for e in definition.exposed] == ["channels"]
    saved = document_to_dict(doc)
    expected = copy.deepcopy(record)
    expected["description"] = ""
    for net in [*expected["networks"].values(), *expected["blocks"].values()]:
        for node in net["nodes"]:
            node["pos"] = [float(v) for v in node["pos"]]
    assert saved == expected


def test_a_v1_reader_refuses_v2_with_the_newer_version_message(monkeypatch):
    text = json.dumps(residual_record())
    monkeypatch.setattr(readwrite, "VERSION", 1)
    monkeypatch.setattr(readwrite, "MIGRATIONS", {})
    with pytest.raises(DocumentError) as info:
        parse_document(text, "res.json")
    assert info.value.path == "version"
    assert "this file is format version 2" in str(info.value)
    assert "open it with a newer NetCanvas" in str(info.value)


def test_a_v1_file_migrates_to_no_blocks():
    record = residual_record()
    del record["blocks"]
    record["version"] = 1
    record["networks"]["main"]["nodes"][1]["block"] = "Conv2d"
    record["networks"]["main"]["nodes"][1]["params"] = {}
    doc = parse_document(json.dumps(record), "old.json")
    assert doc.blocks == {}
    assert document_to_dict(doc)["version"] == 2


def _hostile(mutate) -> DocumentError:
    record = residual_record()
    mutate(record)
    with pytest.raises(DocumentError) as info:
        parse_document(json.dumps(record), "bad.json")
    return info.value


def _set_block(record, index, block):
    record["blocks"]["Res"]["nodes"][index]["block"] = block


@pytest.mark.parametrize("mutate, path, words", [
    (lambda r: _set_block(r, 1, "Conv9d"), "blocks.Res.nodes[1].block", "unknown block 'Conv9d'"),
    (lambda r: _set_block(r, 1, "Res"), "blocks.Res.nodes[1].block", "Res -> Res"),
    (lambda r: r["blocks"].update(lowercase={"nodes": []}), "blocks.lowercase", "CamelCase"),
    (lambda r: r["blocks"].update(Linear={"nodes": []}), "blocks.Linear", "catalogue block"),
    (lambda r: r["blocks"].update(Bad=[]), "blocks.Bad", "block definition object"),
    (lambda r: r["blocks"]["Res"]["params"][0].update(targets=["nowhere.out_channels"]),
     "blocks.Res.params[0].targets[0]", "no node 'nowhere'"),
    (lambda r: r["blocks"]["Res"]["params"][0].update(targets=["conv.colour"]),
     "blocks.Res.params[0].targets[0]", "no parameter 'colour'"),
    (lambda r: r["blocks"]["Res"]["params"][0].update(targets=["conv"]),
     "blocks.Res.params[0].targets[0]", "inner_node.param"),
    (lambda r: r["blocks"]["Res"]["params"][0].update(name="repeat"),
     "blocks.Res.params[0].name", "other than repeat"),
    (lambda r: r["blocks"]["Res"]["params"][0].update(default="wide"),
     "blocks.Res.params[0].default", "expected an integer"),
    (lambda r: r["blocks"]["Res"]["params"][0].update(kind="tensor"),
     "blocks.Res.params[0].kind", "expected one of"),
    (lambda r: r["blocks"]["Res"]["nodes"][1]["params"].update(kernel_size="3"),
     "blocks.Res.nodes[1].params.kernel_size", "expected an integer"),
    (lambda r: r["blocks"]["Res"]["edges"].append({"from": "conv.out", "to": "conv.weights"}),
     "blocks.Res.edges[4].to", "no input port 'weights'"),
    (lambda r: r["networks"]["main"]["nodes"][1]["params"].update(repeat=2.5),
     "networks.main.nodes[1].params.repeat", "expected an integer"),
    (lambda r: r["networks"]["main"]["edges"].append({"from": "stage.result", "to": "out.in"}),
     "networks.main.edges[2].from", "no output port 'result'"),
    (lambda r: r.update(blocks=[]), "blocks", "an object of named block definitions"),
])
def test_hostile_blocks_sections_name_the_path(mutate, path, words):
    error = _hostile(mutate)
    assert error.path == path, error
    assert words in error.reason, error


def test_a_cycle_through_two_composites_names_the_chain():
    def mutate(record):
        record["blocks"]["Other"] = {"nodes": [
            {"id": "in", "block": "Input"}, {"id": "inner", "block": "Res"},
            {"id": "out", "block": "Output"}],
            "edges": [{"from": "in.out", "to": "inner.in"}, {"from": "inner.out", "to": "out.in"}]}
        _set_block(record, 1, "Other")
        record["blocks"]["Res"]["nodes"][1]["params"] = {}
        record["blocks"]["Res"]["params"] = []
    error = _hostile(mutate)
    assert error.path == "blocks.Other.nodes[1].block"
    assert "Other -> Res -> Other" in error.reason


def test_a_file_may_use_a_builtin_composite_without_defining_it():
    record = residual_record()
    del record["blocks"]
    record["networks"]["main"]["nodes"][1].update(block="ResidualBlock",
                                                  params={"channels": 8, "repeat": 2})
    doc = parse_document(json.dumps(record), "builtin.json")
    assert doc.blocks == {}
    assert doc.networks["main"].nodes["stage"].spec.name == "ResidualBlock"


def test_composites_nested_too_deep_are_refused_without_recursing():
    record = residual_record()
    chain = 200
    for k in range(chain):
        inner = "Res" if k == 0 else f"Chain{k - 1}"
        record["blocks"][f"Chain{k}"] = {
            "nodes": [{"id": "in", "block": "Input"}, {"id": "use", "block": inner},
                      {"id": "out", "block": "Output"}],
            "edges": [{"from": "in.out", "to": "use.in"}, {"from": "use.out", "to": "out.in"}]}
    with pytest.raises(DocumentError) as info:
        parse_document(json.dumps(record), "deep.json")
    assert info.value.path.startswith("blocks.Chain") and "at most 32" in info.value.reason
    for k in range(31, chain):  # cut the chain: Res and 31 levels above it are fine
        del record["blocks"][f"Chain{k}"]
    record["networks"]["main"]["nodes"][1].update(block="Chain30", params={})
    doc = parse_document(json.dumps(record), "deep.json")
    assert len(doc.blocks) == 32
    report = check(doc)
    assert report.ok, report.errors
    assert report.networks["main"].nodes["stage"].outputs == {"out": (None, 8, 6, 6)}


# ---- fuzzing the blocks section: one DocumentError or a Document that checks ----------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats(allow_nan=True)
    | st.text(max_size=6) | st.sampled_from(["Res", "Conv2d", "in.out", "conv.out_channels",
                                             "int", "add.a", "repeat", "ResidualBlock"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "block", "params", "name", "kind", "default", "targets", "nodes",
                         "edges", "from", "to", "repeat", "channels", "Res"]) | st.text(max_size=4),
        children, max_size=3),
    max_leaves=10,
)


BLOCK_PATHS = [p for p in json_paths(residual_record()) if p[:1] == ("blocks",)
               or p[:4] == ("networks", "main", "nodes", 1)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(BLOCK_PATHS), value=json_values)
def test_fuzz_any_value_in_the_blocks_section(where: tuple, value):
    record = residual_record()
    target = record
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    try:
        doc = parse_document(json.dumps(record), "fuzz.json")
    except DocumentError as exc:
        assert str(exc).startswith("fuzz.json: ")
        return
    check(doc)  # whatever loads, checking never raises
    assert document_to_dict(parse_document(document_to_json(doc))) == document_to_dict(doc)
