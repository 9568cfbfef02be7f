"""Checking knows the task: outputs against the loss and the data, with fixes that work."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest

from engine import Document, check, load_document
from engine.data import REGISTRY, dataset_facts, facts_of, load_dataset
from engine.fixes import Fix, apply_fix, insert_before, set_param
from engine.readwrite import document_to_json, parse_document
from engine.report_table import format_check
from engine.task_check import needs

PRESETS = sorted(glob.glob(str(Path(__file__).resolve().parent.parent / "presets" / "*.json")))


def chain(blocks: list[tuple[str, dict]], training: dict, name: str = "main",
          doc: Document | None = None) -> Document:
    """Input -> blocks... -> Output as one network of a (new) document."""
    doc = doc or Document()
    net = doc.add_network(name)
    previous = net.add_node("Input", node_id="x").id
    for block, params in blocks:
        node = net.add_node(block, params)
        net.connect(f"{previous}.out", f"{node.id}.in")
        previous = node.id
    net.connect(f"{previous}.out", f"{net.add_node('Output', node_id='y').id}.in")
    doc.training.update(training)
    return doc


DIGITS = {"dataset": "digits", "task": "classification"}


def output_errors(doc: Document, network: str = "main") -> list[str]:
    return check(doc).networks[network].nodes["y"].errors


def assert_fixes_work(doc: Document, network: str = "main") -> list[Fix]:
    """Every fix offered on the Output makes the whole document check, and undoes exactly."""
    before = document_to_json(doc)
    fixes = check(doc).networks[network].nodes["y"].fixes
    assert fixes, "an output error must come with a fix"
    for fix in fixes:
        undo = apply_fix(doc, fix)
        report = check(doc)
        assert report.ok, (fix.description, report.errors)
        undo()
        assert document_to_json(doc) == before, f"undo of '{fix.description}' left changes"
    return fixes


def test_classifier_with_three_outputs_is_an_error_with_set_param_fix():
    doc = chain([("Flatten", {}), ("Linear", {"out_features": 32}), ("ReLU", {}),
                 ("Linear", {"out_features": 3})], DIGITS)
    errors = output_errors(doc)
    assert len(errors) == 1 and "N×10" in errors[0] and "N×3" in errors[0] and "10 classes" in errors[0]
    fixes = assert_fixes_work(doc)
    assert fixes[0].description == "Set linear_2.out_features to 10"
    assert fixes[0].operations == (set_param("main", "linear_2", "out_features", 10),)


def test_missing_flatten_on_default_digits_input_is_an_error_with_insert_flatten_fix():
    doc = chain([("Linear", {"out_features": 64}), ("ReLU", {}), ("Linear", {"out_features": 10})],
                DIGITS)
    errors = output_errors(doc)
    assert errors and "N×1×8×10" in errors[0]
    fixes = assert_fixes_work(doc)
    assert fixes[0].description == "Insert Flatten before linear_1"
    assert fixes[0].operations == (insert_before("main", "linear_1", "Flatten"),)


def test_conv_without_head_gets_flatten_and_linear():
    doc = chain([("Conv2d", {"out_channels": 4}), ("ReLU", {})], DIGITS)
    assert output_errors(doc)
    fixes = assert_fixes_work(doc)
    assert any("Flatten and Linear(10)" in f.description for f in fixes)


def test_fix_is_printed_under_the_error_by_check_table():
    doc = chain([("Flatten", {}), ("Linear", {"out_features": 3})], DIGITS)
    text = format_check(doc, check(doc))
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "ERROR training needs N×10" in line)
    assert "fix: Set linear_1.out_features to 10" in lines[at + 1]


@pytest.mark.parametrize(("training", "blocks", "right"), [
    # regression: one value per sample
    ({"dataset": {"name": "sine"}, "task": "regression"},
     [("Flatten", {}), ("Linear", {"out_features": 3})], 1),
    # autoencoder: the input's 64 values
    ({"dataset": "digits", "task": "autoencoder"}, [("Flatten", {}), ("Linear", {"out_features": 10})], 64),
    # DQN: one value per action
    ({"dataset": "CartPole-v1", "task": "dqn"}, [("Linear", {"out_features": 3})], 2),
    # classification of CSV-like integer classes with a binary loss: one value
    ({"dataset": "xor", "task": "classification", "loss": "bce_logits"},
     [("Linear", {"out_features": 2})], 1),
])
def test_each_task_needs_its_output(training, blocks, right):
    name = "q_network" if training["task"] == "dqn" else "main"
    doc = chain(blocks, training, name)
    assert output_errors(doc, name), "a wrong width must be an error"
    assert_fixes_work(doc, name)
    good = chain(blocks[:-1] + [("Linear", {"out_features": right})], training, name)
    assert check(good).ok, check(good).errors


def test_sequence_needs_a_score_per_token_and_step():
    training = {"dataset": {"name": "reverse", "seq_len": 5, "vocab": 7}, "task": "sequence"}
    doc = chain([("Embedding", {"num_embeddings": 7, "embedding_dim": 8}),
                 ("Linear", {"out_features": 6})], training)
    assert "N×5×7" in output_errors(doc)[0]
    assert_fixes_work(doc)


def test_gan_networks_each_need_their_shape():
    training = {"dataset": "ring", "task": "gan"}
    doc = Document()
    gen = chain([("Linear", {"out_features": 3})], training, "generator", doc)
    gen.network("generator").set_param("x", "shape", [4])
    chain([("Linear", {"out_features": 2})], training, "discriminator", doc)
    report = check(doc)
    assert "2 values per sample" in report.networks["generator"].nodes["y"].errors[0]
    assert "1 values per sample" in report.networks["discriminator"].nodes["y"].errors[0]
    for name in ("generator", "discriminator"):
        fix = report.networks[name].nodes["y"].fixes[0]
        apply_fix(doc, fix)
    assert check(doc).ok, check(doc).errors


def test_node_classification_needs_a_row_per_node():
    training = {"dataset": "karate", "task": "node_classification"}
    doc = Document()
    net = doc.add_network("main")
    a = net.add_node("Input", {"source": "adjacency"}, node_id="a")
    f = net.add_node("Input", {"source": "features"}, node_id="f")
    g = net.add_node("GraphConv", {"out_features": 4}, node_id="g")
    net.connect(f"{a.id}.out", "g.adjacency")
    net.connect(f"{f.id}.out", "g.features")
    net.connect(f"{g.id}.out", f"{net.add_node('Output', node_id='y').id}.in")
    doc.training.update(training)
    assert "34×2" in output_errors(doc)[0]
    assert assert_fixes_work(doc)[0].description == "Set g.out_features to 2"


def test_csv_labels_with_more_classes_than_outputs_fail_at_check(tmp_path):
    rows = ["a,b,label"] + [f"{i},{i % 3},{'cat dog bird owl'.split()[i % 4]}" for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    doc = chain([("Linear", {"out_features": 3})], {"dataset": {"name": "csv", "path": str(tmp_path / "t.csv")}})
    assert "4 classes" in output_errors(doc)[0]
    np.savez(tmp_path / "d.npz", x=np.zeros((30, 2), np.float32), y=np.arange(30) % 5)
    doc = chain([("Linear", {"out_features": 3})], {"dataset": {"name": "npz", "path": str(tmp_path / "d.npz")}})
    assert "5 classes" in output_errors(doc)[0]
    assert_fixes_work(doc)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: Path(p).stem)
def test_every_preset_meets_its_task(path):
    """No false alarm: each preset trains, so each must check, and its needs must be known."""
    doc = load_document(path)
    report = check(doc)
    assert report.ok, report.errors
    task = doc.training.get("task", "classification")
    if task != "perceptron":
        facts = dataset_facts(doc.training)
        assert needs(doc.training, facts), f"no output need known for task {task}"


OFFLINE = ["iris", "digits", "xor", "moons", "circles", "spirals", "blobs", "ring", "sine",
           "remember", "copy", "reverse", "sort", "majority", "karate", "CartPole-v1",
           "FrozenLake-v1"]


@pytest.mark.parametrize("name", OFFLINE)
def test_declared_facts_agree_with_the_loaded_dataset(name):
    assert REGISTRY[name].facts is not None, "offline datasets declare their facts: no load at check"
    spec = {"name": name}
    assert REGISTRY[name].facts(spec) == facts_of(load_dataset({"dataset": spec}, 0))
    if name == "sine":
        spec = {"name": name, "mode": "sequence", "seq_len": 7}
        assert REGISTRY[name].facts(spec) == facts_of(load_dataset({"dataset": spec}, 0))


def test_task_errors_survive_a_round_trip_through_json():
    doc = chain([("Flatten", {}), ("Linear", {"out_features": 3})], DIGITS)
    again = parse_document(json.loads(json.dumps(document_to_json(doc))))
    assert output_errors(again) == output_errors(doc)


def test_incremental_checkers_are_not_changed_by_the_task_pass():
    """The editor keeps NetworkCheckers and runs the task pass after each: no error piles up."""
    from engine.shapes import NetworkChecker, dataset_shapes_for
    from engine.task_check import check_task

    doc = chain([("Flatten", {}), ("Linear", {"out_features": 3})], DIGITS)
    checker = NetworkChecker(doc.network("main"), dataset_shapes_for(doc))
    for _ in range(3):
        reports = {"main": checker.report()}
        check_task(doc, reports)
        assert len(reports["main"].nodes["y"].errors) == 1
        assert len(reports["main"].nodes["y"].fixes) >= 1
    doc.network("main").set_param("linear_1", "out_features", 10)
    reports = {"main": checker.report()}
    check_task(doc, reports)
    assert reports["main"].ok
    checker.close()


def test_a_data_file_that_cannot_be_read_is_a_check_problem_naming_the_line(tmp_path):
    rows = ["a,b,label", "1,2,x", "3,oops,y"] + [f"{i},{i},x" for i in range(10)]
    (tmp_path / "bad.csv").write_text("\n".join(rows) + "\n")
    doc = chain([("Linear", {"out_features": 2})],
                {"dataset": {"name": "csv", "path": str(tmp_path / "bad.csv")}})
    report = check(doc)
    assert not report.ok
    assert any("bad.csv, line 3: column 'b' holds 'oops'" in p for p in report.problems)
