"""The perceptron (Rosenblatt's rule) and node-classification trainers, on tiny data."""

from __future__ import annotations

import threading

import numpy as np
import torch

from engine.data.base import ArrayDataset, DatasetEntry, GraphDataset, register
from engine.data.splits import split_indices
from engine.document import Document
from engine.training import Epoch, Failed, Finished, Started, Step, make_trainer
from tests.helpers import chain_document


def run_all(doc, **options):
    return list(make_trainer(doc, **options).run())


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[n][k], b[n][k]) and a[n].keys() == b[n].keys() for n in a for k in a[n])


# ---- small datasets of our own, so these tests do not wait on the data package ------------


def _separable(spec, seed):
    """Two classes on either side of x1 + x2 = 0, nothing within a margin of the line."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, (200, 2)).astype(np.float32)
    x = x[np.abs(x.sum(1)) > 0.4]
    y = (x.sum(1) > 0).astype(np.int64)
    return ArrayDataset("test_separable", x, y, split_indices(len(y), seed, y), 2)


def _three_blobs(spec, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 150)
    centres = np.array([[0.0, 4.0], [4.0, -3.0], [-4.0, -3.0]])
    x = (centres[y] + rng.normal(0.0, 0.7, (150, 2))).astype(np.float32)
    return ArrayDataset("test_three_blobs", x, y.astype(np.int64), split_indices(150, seed, y), 3)


def _two_cliques(spec, seed):
    """Two 6-node cliques joined by one edge; one labelled node per clique."""
    adjacency = np.zeros((12, 12), dtype=np.float32)
    adjacency[:6, :6] = adjacency[6:, 6:] = 1.0
    np.fill_diagonal(adjacency, 0.0)
    adjacency[5, 6] = adjacency[6, 5] = 1.0
    labels = np.array([0] * 6 + [1] * 6, dtype=np.int64)
    train = np.zeros(12, dtype=bool)
    train[[0, 11]] = True
    return GraphDataset("test_two_cliques", adjacency, np.eye(12, dtype=np.float32), labels,
                        {"train": train, "val": ~train, "test": ~train}, 2, ["left", "right"])


register(DatasetEntry("test_separable", "separable 2-D points", "arrays", _separable,
                      lambda spec: {"x": (None, 2)}))
register(DatasetEntry("test_three_blobs", "three 2-D blobs", "arrays", _three_blobs,
                      lambda spec: {"x": (None, 2)}))
def _broken_cliques(spec, seed):
    data = _two_cliques(spec, seed)
    data.features[3, 3] = np.nan
    return data


register(DatasetEntry("test_two_cliques", "two cliques", "graph", _two_cliques,
                      lambda spec: {"adjacency": (12, 12), "features": (12, 12)}))
register(DatasetEntry("test_nan_cliques", "two cliques, one NaN feature", "graph",
                      _broken_cliques, lambda spec: {"adjacency": (12, 12), "features": (12, 12)}))


def perceptron_doc(units: int = 1, dataset: str = "test_separable", **training) -> Document:
    setup = {"task": "perceptron", "dataset": dataset, "epochs": 30, "batch_size": 16,
             "seed": 0, "device": "cpu"}
    setup.update(training)
    return chain_document([("Linear", {"out_features": units}), ("Step", {})], setup)


def gcn_doc(**training) -> Document:
    doc = Document("gcn")
    net = doc.add_network("main")
    net.add_node("Input", {"source": "adjacency"}, node_id="adj")
    net.add_node("Input", {"source": "features"}, node_id="feat")
    net.add_node("GraphConv", {"out_features": 8}, node_id="g1")
    net.add_node("ReLU", {}, node_id="relu")
    net.add_node("GraphConv", {"out_features": 2}, node_id="g2")
    net.add_node("Output", {}, node_id="out")
    for source, target in [("adj.out", "g1.adjacency"), ("feat.out", "g1.features"),
                           ("g1.out", "relu.in"), ("adj.out", "g2.adjacency"),
                           ("relu.out", "g2.features"), ("g2.out", "out.in")]:
        net.connect(source, target)
    doc.training = {"task": "node_classification", "dataset": "test_two_cliques",
                    "optimizer": {"name": "adam", "lr": 0.05}, "epochs": 30, "seed": 0,
                    "device": "cpu", **training}
    return doc


# ---- perceptron ---------------------------------------------------------------------


def test_perceptron_converges_on_separable_data_and_stops_early():
    doc = perceptron_doc()
    events = run_all(doc)
    assert isinstance(events[0], Started) and events[0].task == "perceptron"
    epochs = [e for e in events if isinstance(e, Epoch)]
    steps = [e for e in events if isinstance(e, Step)]
    assert epochs[-1].train["errors"] == 0 and epochs[0].train["errors"] > 0
    assert len(epochs) < 30  # an epoch without mistakes ends the run
    assert all(float(s.loss).is_integer() and s.loss >= 0 for s in steps)  # mistakes, counted
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.stopped
    assert finished.metrics["converged"] and finished.metrics["train_accuracy"] == 1.0
    assert np.array(finished.metrics["confusion_matrix"]).shape == (2, 2)
    assert doc.weights["main"]["b0.weight"].shape == (1, 2)


def test_perceptron_is_the_mistake_driven_rule_not_gradient_descent():
    """From zero weights, the first mistake on x with label 1 gives w = lr·x exactly."""
    doc = perceptron_doc(epochs=1, batch_size=1, perceptron={"lr": 0.5})
    trainer = make_trainer(doc)
    events = trainer.run()
    for event in events:
        if isinstance(event, Step) and event.loss == 1.0:
            break
    x = trainer.x[trainer.splits["train"]]
    w, b = trainer.linear.weight.detach().reshape(-1), float(trainer.linear.bias.detach())
    assert abs(b) == 0.5  # one update of ±lr
    assert any(torch.allclose(w, b * row) for row in x)  # w = lr·(y − ŷ)·x for that sample
    events.close()


def test_perceptron_one_vs_rest_for_several_classes():
    events = run_all(perceptron_doc(3, "test_three_blobs", epochs=20))
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.metrics["train_accuracy"] > 0.9
    assert np.array(finished.metrics["confusion_matrix"]).shape == (3, 3)


def test_perceptron_refuses_other_architectures_with_a_clear_message():
    doc = chain_document([("Linear", {"out_features": 4}), ("ReLU", {}),
                          ("Linear", {"out_features": 1}), ("Step", {})],
                         {"task": "perceptron", "dataset": "test_separable", "device": "cpu"})
    failed = run_all(doc)[-1]
    assert isinstance(failed, Failed)
    assert "Input → Linear" in failed.message and "Step" in failed.message
    assert "found Input → Linear → ReLU" in failed.message
    wrong_width = run_all(perceptron_doc(1, "test_three_blobs"))[-1]
    assert isinstance(wrong_width, Failed) and "3 classes" in wrong_width.message


def test_perceptron_same_seed_same_weights_and_stop():
    a, b = perceptron_doc(perceptron={"init": "random"}), perceptron_doc(perceptron={"init": "random"})
    run_all(a)
    run_all(b)
    assert weights_equal(a.weights, b.weights)
    trainer = make_trainer(perceptron_doc(batch_size=1))
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Step):
            trainer.stop()
    assert isinstance(events[-1], Finished) and events[-1].stopped
    assert "train_accuracy" in events[-1].metrics


# ---- node classification ------------------------------------------------------------


def test_node_classification_learns_from_one_label_per_class():
    doc = gcn_doc()
    events = run_all(doc)
    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert len(steps) == len(epochs) == 30
    assert steps[-1].loss < steps[0].loss / 2
    assert set(epochs[-1].train) == {"loss", "accuracy"} and "accuracy" in epochs[-1].val
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.metrics["test_accuracy"] >= 0.9
    assert finished.metrics["confusion_matrix"] and set(finished.metrics["per_class_accuracy"]) == {
        "left", "right"}


def test_node_classification_same_seed_same_weights_and_stop():
    a, b = gcn_doc(epochs=5), gcn_doc(epochs=5)
    run_all(a)
    run_all(b)
    assert weights_equal(a.weights, b.weights)
    trainer = make_trainer(gcn_doc())
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Epoch) and event.epoch == 2:
            threading.Thread(target=trainer.stop).start()
            threading.Event().wait(0.05)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.stopped
    assert len([e for e in events if isinstance(e, Epoch)]) < 30
    assert "test_accuracy" in finished.metrics


def test_node_classification_refuses_wrong_setups():
    doc = gcn_doc()
    doc.network("main").set_param("feat", "source", "x")
    failed = run_all(doc)[-1]
    assert isinstance(failed, Failed) and "source 'x'" in failed.message
    wrong_loss = run_all(gcn_doc(loss="mse"))[-1]
    assert isinstance(wrong_loss, Failed) and "cross_entropy" in wrong_loss.message
    not_a_graph = run_all(gcn_doc(dataset="test_separable"))[-1]
    assert isinstance(not_a_graph, Failed)


def test_node_classification_nan_fails_and_keeps_finite_weights():
    doc = gcn_doc(dataset="test_nan_cliques")
    events = run_all(doc)
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.step == 1 and "nan" in failed.message
    assert all(torch.isfinite(v).all() for v in doc.weights["main"].values())
