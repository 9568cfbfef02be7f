"""The Python API as DESIGN.md and the README show it, run as a notebook would."""

from __future__ import annotations

import pytest

import engine
from engine.training import Finished


def test_the_documented_snippet_runs(tmp_path):
    doc = engine.load_document("presets/lenet_digits.json")
    report = engine.check(doc)
    assert report.ok and report.networks["main"].parameters == 431_080
    model = engine.compile_network(doc, "main")
    doc.training["epochs"] = 1
    events = list(engine.make_trainer(doc, engine.RunOptions(device="cpu")).run())
    assert isinstance(events[-1], Finished)
    model.load_state_dict(doc.weights["main"])
    engine.save_bundle(doc, {"main": model}, tmp_path / "lenet.ncz")
    reopened = engine.load_document(tmp_path / "lenet.ncz")
    assert set(reopened.weights["main"]) == set(model.state_dict())
    exported = engine.export_document(reopened, "python", tmp_path / "src")
    assert (tmp_path / "src" / "model.py").exists() and exported


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        engine.no_such_thing  # noqa: B018
