"""`train.py` from the Python export of a document built from composites reproduces its run.

model.py builds a composite's layers in the compiler's order (copy after copy,
nested blocks in place), so initialisation draws the same numbers and the
script ends with NetCanvas's metrics.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import engine
from engine.export import export_document
from engine.training import make_trainer
from engine.training.events import Finished

ROOT = Path(__file__).resolve().parent.parent


def _netcanvas_metrics(doc: engine.Document) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the script runs
    try:
        events = list(make_trainer(doc, engine.RunOptions(device="cpu")).run())
    finally:
        torch.set_num_threads(threads)
    assert isinstance(events[-1], Finished), getattr(events[-1], "message", events[-1])
    return events[-1].metrics


def _small(preset: str) -> engine.Document:
    """The preset, one epoch on a short dataset: enough to move every weight."""
    doc = engine.load_document(ROOT / "presets" / f"{preset}.json")
    doc.training["epochs"] = 1
    if preset == "transformer_deep_sort":
        doc.training["dataset"]["n_samples"] = 600
    return doc


@pytest.mark.parametrize("preset", ["resnet_digits", "transformer_deep_sort"])
def test_train_py_of_a_composite_document_reproduces_the_metrics(tmp_path: Path, preset: str) -> None:
    doc = _small(preset)
    (exported,) = export_document(doc, "python", tmp_path)
    assert "train.py and data.npz" in exported.note
    assert "(*(" in (tmp_path / "model.py").read_text()  # a repeated block: nn.Sequential of a class
    process = subprocess.Popen([sys.executable, "train.py", "--threads", "1"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        expected = _netcanvas_metrics(doc)
        out, err = process.communicate(timeout=500)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    actual = json.loads(out.strip().splitlines()[-1])
    assert {"test_loss", "test_accuracy"} <= set(actual)
    for key, value in actual.items():
        assert value == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
