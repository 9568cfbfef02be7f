"""Defaults that work: per-dataset epochs and learning rate, and early stopping."""

from __future__ import annotations

from engine.data.defaults import with_dataset_defaults
from engine.training import Epoch, Finished, make_trainer, schema
from tests.helpers import iris_mlp


def _run(doc):
    events = list(make_trainer(doc).run())
    assert isinstance(events[-1], Finished), events[-1]
    return [e for e in events if isinstance(e, Epoch)], events[-1]


def _new_iris():
    """What a person makes: a dataset picked, no epochs and no learning rate of their own."""
    doc = iris_mlp()
    for key in ("epochs", "optimizer", "batch_size"):
        doc.training.pop(key)
    return doc


def test_a_new_iris_classifier_reaches_a_sensible_accuracy_with_the_defaults():
    epochs, finished = _run(_new_iris())
    assert len(epochs) == 50  # iris's own default, not the schema's 10
    assert finished.metrics["test_accuracy"] >= 0.9


def test_dataset_defaults_fill_only_what_the_document_leaves_unset():
    training = {"dataset": "iris", "optimizer": "sgd"}
    filled = with_dataset_defaults(training)
    assert filled["epochs"] == 50 and filled["optimizer"] == {"name": "sgd", "lr": 0.01}
    assert training == {"dataset": "iris", "optimizer": "sgd"}  # the document is not changed
    own = {"dataset": "iris", "epochs": 3, "optimizer": {"name": "adam", "lr": 0.1}}
    assert with_dataset_defaults(own) == own
    assert with_dataset_defaults({"dataset": "sine"}) == {"dataset": "sine"}


def test_early_stopping_stops_and_keeps_the_best_epochs_weights():
    doc = iris_mlp(epochs=200, optimizer={"name": "adam", "lr": 0.05},
                   early_stopping={"patience": 3, "metric": "val_accuracy"})
    epochs, finished = _run(doc)
    assert len(epochs) < 200 and finished.metrics["stopped_early"] is True
    best = max(e.val["accuracy"] for e in epochs)
    best_epoch = next(e.epoch for e in epochs if e.val["accuracy"] == best)
    assert finished.metrics["best_epoch"] == best_epoch
    assert len(epochs) == best_epoch + 3
    assert finished.metrics["val_accuracy"] == best  # evaluated with the restored weights


def test_early_stopping_is_declared_and_checked():
    assert schema.lookup("early_stopping", "patience").default == 0
    found = schema.findings({"task": "classification", "early_stopping": {"patience": -1}})
    assert any(f.path == "training.early_stopping.patience" for f in found), found
