"""The supervised trainer: events, metrics, controls, failures, seeds and resume."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine.data.base import ArrayDataset, DatasetEntry, register
from engine.data.splits import split_indices
from engine.training import (
    Activations,
    Epoch,
    Failed,
    Finished,
    Samples,
    Started,
    Step,
    make_trainer,
)
from tests.helpers import chain_document, iris_mlp


def run_all(doc, **options):
    return list(make_trainer(doc, **options).run())


def _regression(spec, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    return ArrayDataset("test_linear", x, y, split_indices(200, seed))


register(DatasetEntry("test_linear", "y = x·w, for tests", "arrays", _regression,
                      lambda spec: {"x": (None, 3)}))


def test_classification_events_and_metrics():
    events = run_all(iris_mlp(epochs=5))
    assert isinstance(events[0], Started) and events[0].parameters["main"] == 4 * 16 + 16 + 16 * 3 + 3
    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert len(epochs) == 5 and epochs[-1].progress == 1.0
    assert steps[-1].loss < steps[0].loss
    assert epochs[-1].val["accuracy"] > 0.7
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.stopped
    matrix = np.array(finished.metrics["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() > 0
    assert set(finished.metrics["per_class_accuracy"]) == {"setosa", "versicolor", "virginica"}
    assert 0.0 <= finished.metrics["test_accuracy"] <= 1.0


def test_regression_loss_falls_and_reports_mse():
    doc = chain_document([("Linear", {"out_features": 1})],
                         {"task": "regression", "dataset": "test_linear", "loss": "mse",
                          "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                          "epochs": 10, "batch_size": 20, "device": "cpu"})
    events = run_all(doc)
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert epochs[-1].val["mse"] < epochs[0].val["mse"] / 10
    assert events[-1].metrics["test_mse"] < 0.05


def test_autoencoder_emits_reconstructions():
    doc = chain_document(
        [("Flatten", {}), ("Linear", {"out_features": 16}), ("ReLU", {}),
         ("Linear", {"out_features": 64}), ("Sigmoid", {})],
        {"task": "autoencoder", "dataset": "digits", "loss": "mse", "epochs": 2,
         "batch_size": 64, "optimizer": {"name": "adam", "lr": 0.01}, "device": "cpu"})
    events = run_all(doc)
    samples = [e for e in events if isinstance(e, Samples)]
    assert len(samples) == 2
    assert samples[0].kind == "reconstruction"
    assert samples[0].images.shape == samples[0].inputs.shape == (8, 1, 8, 8)
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert epochs[-1].val["mse"] < epochs[0].train["loss"]


def test_same_seed_gives_identical_weights_and_other_seed_differs():
    first, second, third = iris_mlp(), iris_mlp(), iris_mlp(seed=1)
    for doc in (first, second, third):
        run_all(doc)
    for key, tensor in first.weights["main"].items():
        assert torch.equal(tensor, second.weights["main"][key])
    assert not torch.equal(first.weights["main"]["b0.weight"], third.weights["main"]["b0.weight"])


def test_nan_loss_fails_naming_the_step_and_keeps_finite_weights():
    doc = chain_document([("Linear", {"out_features": 1})],
                         {"task": "regression", "dataset": "test_linear", "loss": "mse",
                          "optimizer": {"name": "sgd", "lr": 1e6}, "epochs": 20,
                          "batch_size": 20, "device": "cpu"})
    events = run_all(doc)
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert "at step" in failed.message and failed.step is not None and failed.step > 1
    assert all(torch.isfinite(t).all() for t in doc.weights["main"].values())


def test_unknown_dataset_and_bad_graph_fail_with_a_message():
    events = run_all(iris_mlp(dataset="no_such_set"))
    assert isinstance(events[-1], Failed) and "no_such_set" in events[-1].message
    doc = iris_mlp()
    doc.network("main").set_param("b0", "out_features", 0)
    events = run_all(doc)
    assert isinstance(events[-1], Failed) and "b0" in events[-1].message


def test_pause_resume_and_stop_from_another_thread():
    trainer = make_trainer(iris_mlp(epochs=1000, batch_size=4))
    events: list = []
    paused_at = threading.Event()

    def consume():
        for event in trainer.run():
            events.append(event)
            if isinstance(event, Step) and event.step == 5:
                trainer.pause()
                paused_at.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert paused_at.wait(30)
    count = len(events)
    worker.join(timeout=0.3)
    assert worker.is_alive() and len(events) == count  # nothing moves while paused
    trainer.resume()
    trainer.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert isinstance(events[-1], Finished) and events[-1].stopped
    assert "test_accuracy" in events[-1].metrics  # a stopped run still reports its quality


def test_watched_activations_are_reported():
    events = run_all(iris_mlp(epochs=1), watch=["b0"], activation_interval=0.0)
    activations = [e for e in events if isinstance(e, Activations)]
    assert activations and activations[0].tensors["b0"].shape == (16,)


def test_resume_continues_exactly_as_an_uninterrupted_run():
    whole = iris_mlp(epochs=4)
    run_all(whole)
    part = iris_mlp(epochs=4)
    run_all(part, epochs=2)
    assert part.train_state["epoch"] == 2
    events = run_all(part, resume=True)
    assert events[0].start_epoch == 2
    assert [e.epoch for e in events if isinstance(e, Epoch)] == [3, 4]
    for key, tensor in whole.weights["main"].items():
        assert torch.equal(tensor, part.weights["main"][key]), key


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_trains(optimizer):
    events = run_all(iris_mlp(optimizer={"name": optimizer, "lr": 0.05, "momentum": 0.9},
                              epochs=3, lr_schedule={"name": "step", "step_size": 1}))
    steps = [e for e in events if isinstance(e, Step)]
    assert isinstance(events[-1], Finished)
    assert np.mean([s.loss for s in steps[-5:]]) < np.mean([s.loss for s in steps[:5]])
    assert steps[-1].lr < 0.05  # the step schedule lowered it
