"""`train.py` from the Python export reproduces NetCanvas's run in plain PyTorch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import engine
from engine.export import export_document
from engine.training import make_trainer
from engine.training.events import Failed, Finished
from engine.training_script import write_training_script

ROOT = Path(__file__).resolve().parent.parent
# preset -> epochs: enough to move the weights far from their start, short enough for the suite
CASES = {"feedforward_iris": 30, "lenet_digits": 1, "conv_autoencoder_digits": 1,
         "lstm_sine": 2, "rnn_delayed_copy": 1}
ALLOWED_IMPORTS = {"torch", "numpy", "model", "argparse", "json", "random", "pathlib"}


def _document(preset: str, epochs: int):
    doc = engine.load_document(ROOT / "presets" / f"{preset}.json")
    doc.training["epochs"] = epochs
    return doc


def _netcanvas_metrics(doc) -> dict:
    """The NetCanvas trainer's final metrics, on one thread as the script is run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        events = list(make_trainer(doc, engine.RunOptions(device="cpu")).run())
    finally:
        torch.set_num_threads(threads)
    last = events[-1]
    assert not isinstance(last, Failed), last.message
    assert isinstance(last, Finished)
    return last.metrics


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, tuple[dict, subprocess.Popen]]:
    """Every case exported and its train.py started at once (they run while NetCanvas trains)."""
    started = {}
    for preset, epochs in CASES.items():
        folder = tmp_path_factory.mktemp(preset)
        doc = _document(preset, epochs)
        (exported,) = export_document(doc, "python", folder)
        assert "train.py and data.npz" in exported.note
        process = subprocess.Popen([sys.executable, "train.py", "--threads", "1"], cwd=folder,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[preset] = (doc, folder, process)
    yield started
    for _, _, process in started.values():
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("preset", list(CASES))
def test_train_py_reproduces_the_netcanvas_metrics(preset: str, scripts) -> None:
    doc, folder, process = scripts[preset]
    expected = _netcanvas_metrics(doc)
    out, err = process.communicate(timeout=500)
    assert process.returncode == 0, err
    lines = out.strip().splitlines()
    assert len([ln for ln in lines if ln.startswith("epoch ")]) == CASES[preset]
    actual = json.loads(lines[-1])
    assert set(actual) >= {"test_loss", "val_loss"}
    for key, value in actual.items():
        assert value == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
    assert (folder / "trained_state_dict.pt").is_file()


def test_train_py_imports_only_torch_numpy_and_the_standard_library(scripts) -> None:
    _, folder, _ = scripts["lenet_digits"]
    source = (folder / "train.py").read_text()
    tree = ast.parse(source)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= ALLOWED_IMPORTS
    assert "SHIFT = 2" in source  # the preset's settings, epochs (1 here) included
    assert "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1)" in source
    assert "torch.nn.NLLLoss()" in source


def test_tasks_without_a_supervised_loop_get_no_script(tmp_path: Path) -> None:
    gan = engine.load_document(ROOT / "presets" / "gan_ring.json")
    assert write_training_script(gan, tmp_path) is None
    assert not (tmp_path / "train.py").exists()
    (exported,) = export_document(gan, "python", tmp_path / "gan")
    assert "no train.py: task 'gan'" in exported.note
