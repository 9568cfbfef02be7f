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
METRIC_KEYS = {"test_loss", "test_accuracy", "test_mse", "test_mae", "test_sequence_accuracy",
               "test_naive_mse", "test_naive_ratio", "val_loss", "val_accuracy", "val_mse", "val_mae"}
ALLOWED_IMPORTS = {"torch", "numpy", "model"} | set(sys.stdlib_module_names)


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
    assert set(expected) & METRIC_KEYS <= set(actual)  # every number NetCanvas reports
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


def test_a_downloaded_dataset_is_fetched_by_the_script_and_split_as_netcanvas_does(tmp_path: Path) -> None:
    """MNIST is not copied: train.py downloads it, checks it and splits it like the engine.

    Small files in MNIST's format stand in for the download (their digests patched into
    the script); the script's arrays must equal what the engine reads from the same files.
    """
    import importlib.util

    import numpy as np

    from engine.data.downloads import IDX_FILES, SOURCES, _idx_splits, sha256_of
    from engine.data.formats import read_idx, write_idx

    doc = _document("lenet_digits", 1)
    doc.training["dataset"] = {"name": "mnist", "val_size": 4}
    assert write_training_script(doc, tmp_path) == tmp_path / "train.py"
    assert not (tmp_path / "data.npz").exists()
    source = (tmp_path / "train.py").read_text()
    assert SOURCES["mnist"][0].urls[0] in source
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name, count in zip(IDX_FILES, (12, 12, 5, 5), strict=True):
        shape = (count, 28, 28) if "images" in name else (count,)
        write_idx(rng.integers(0, 256 if "images" in name else 10, shape).astype(np.uint8), folder / name)
    for remote in SOURCES["mnist"]:
        source = source.replace(remote.sha256, sha256_of(folder / remote.name))
    (tmp_path / "train.py").write_text(source)
    (tmp_path / "model.py").write_text("Main = None\n")  # read_arrays needs no model
    spec = importlib.util.spec_from_file_location("exported_train", tmp_path / "train.py")
    script = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(tmp_path))
    try:
        spec.loader.exec_module(script)
        x, y, splits = script.read_arrays()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("model", None)
    images = [read_idx(folder / f) for f in IDX_FILES[0::2]]
    labels = [read_idx(folder / f) for f in IDX_FILES[1::2]]
    np.testing.assert_array_equal(x, np.concatenate(images)[:, None].astype(np.float32) / 255.0)
    np.testing.assert_array_equal(y, np.concatenate(labels))
    expected = _idx_splits({"val_size": 4}, 0, 12, 17)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(splits[name], expected[name])
