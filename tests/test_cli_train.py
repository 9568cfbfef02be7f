"""`netcanvas train`: progress, final metrics, the bundle, resume and one-line failures."""

from __future__ import annotations

import numpy as np
import torch

from engine import load_document
from engine.cli import main
from engine.data.base import ArrayDataset, DatasetEntry, register
from engine.data.splits import split_indices
from engine.readwrite import save_document
from tests.helpers import chain_document, iris_mlp


def _inf_data(spec, seed):
    x = np.full((40, 2), np.inf, dtype=np.float32)
    return ArrayDataset("cli_inf_data", x, np.zeros((40, 1), np.float32), split_indices(40, seed))


register(DatasetEntry("cli_inf_data", "for CLI failure tests", "arrays", _inf_data,
                      lambda spec: {"x": (None, 2)}))


def _write(doc, tmp_path, name="model.json"):
    path = tmp_path / name
    save_document(doc, path)
    return str(path)


def test_train_writes_a_bundle_and_prints_metrics(tmp_path, capsys):
    path = _write(iris_mlp(epochs=2), tmp_path)
    assert main(["train", path, "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert "test_accuracy" in out and "saved" in out
    assert "epoch 2:" in err and "ETA" in err  # progress (a line per tenth when not a terminal)
    bundle = tmp_path / "out" / "model.ncz"
    doc = load_document(bundle)
    assert set(doc.weights) == {"main"} and doc.train_state["epoch"] == 2
    assert "test_accuracy" in doc.metrics


def test_training_a_bundle_resumes_it(tmp_path, capsys):
    path = _write(iris_mlp(epochs=2), tmp_path)
    assert main(["train", path, "--out", str(tmp_path), "--quiet"]) == 0
    bundle = str(tmp_path / "model.ncz")
    before = load_document(bundle).weights["main"]["b0.weight"].clone()
    assert main(["train", bundle, "--epochs", "4", "--out", str(tmp_path), "--quiet"]) == 0
    after = load_document(bundle)
    assert after.train_state["epoch"] == 4
    assert not torch.equal(before, after.weights["main"]["b0.weight"])


def test_overrides_seed_and_device(tmp_path, capsys):
    path = _write(iris_mlp(epochs=1), tmp_path)
    assert main(["train", path, "--seed", "3", "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert "on cpu" in capsys.readouterr().err


def test_invalid_graph_fails_with_the_node_named(tmp_path, capsys):
    doc = iris_mlp()
    doc.network("main").set_param("b0", "out_features", 0)
    assert main(["train", _write(doc, tmp_path), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "b0" in err and "netcanvas train:" in err
    assert not (tmp_path / "model.ncz").exists()


def test_missing_dataset_and_missing_file_fail_cleanly(tmp_path, capsys):
    assert main(["train", _write(iris_mlp(dataset="nowhere"), tmp_path)]) == 1
    assert "nowhere" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "absent.json")]) == 1
    assert "absent.json" in capsys.readouterr().err


def test_nan_loss_fails_but_keeps_the_last_good_weights(tmp_path, capsys):
    doc = chain_document([("Linear", {"out_features": 1})],
                         {"task": "regression", "dataset": "cli_inf_data", "loss": "mse",
                          "epochs": 3, "device": "cpu"})
    assert main(["train", _write(doc, tmp_path), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "at step 1" in err and "saved" in err
    saved = load_document(tmp_path / "model.ncz")
    assert all(torch.isfinite(t).all() for t in saved.weights["main"].values())


def test_checkpoints_write_the_bundle_during_the_run(tmp_path, capsys):
    from engine.training import Checkpoint, make_trainer

    target = tmp_path / "ckpt.ncz"
    events = list(make_trainer(iris_mlp(epochs=4), checkpoint_path=str(target),
                               checkpoint_every=2).run())
    checkpoints = [e for e in events if isinstance(e, Checkpoint)]
    assert [c.epoch for c in checkpoints] == [2, 4] and checkpoints[0].path == str(target)
    assert load_document(target).train_state["epoch"] == 4
    path = _write(iris_mlp(epochs=2), tmp_path)
    assert main(["train", path, "--out", str(tmp_path), "--checkpoint-every", "1", "--quiet"]) == 0
    assert load_document(tmp_path / "model.ncz").train_state["epoch"] == 2
