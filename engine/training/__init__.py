"""Trainers, one per paradigm, chosen by `training.task`, all speaking `events`.

The events load eagerly (they import no torch): the GUI's plots name them at
start-up, before PyTorch has loaded in the background. The trainers, `RunOptions`
and `make_trainer`'s registry load on first use (PEP 562).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.errors import NetCanvasError
from engine.training.events import (
    Activations,
    Checkpoint,
    Episode,
    Epoch,
    Failed,
    Finished,
    Samples,
    Started,
    Step,
)

if TYPE_CHECKING:
    from engine.document import Document
    from engine.training.base import RunOptions, Trainer

TrainerFactory = Callable[["Document", "RunOptions"], "Trainer"]
_TRAINERS: dict[str, TrainerFactory] = {}


def _trainers() -> dict[str, TrainerFactory]:
    """task -> trainer factory, importing the trainers (and torch) the first time."""
    if not _TRAINERS:
        from engine.training.dqn import DqnTrainer
        from engine.training.gan import GanTrainer
        from engine.training.graph import NodeClassificationTrainer
        from engine.training.perceptron import PerceptronTrainer
        from engine.training.q_learning import QLearningTrainer
        from engine.training.supervised import SupervisedTrainer

        def supervised(task: str) -> TrainerFactory:
            return lambda doc, options: SupervisedTrainer(doc, options, task)

        for task in ("classification", "regression", "sequence", "autoencoder"):
            _TRAINERS[task] = supervised(task)
        _TRAINERS.update(perceptron=PerceptronTrainer, node_classification=NodeClassificationTrainer,
                         gan=GanTrainer, dqn=DqnTrainer, q_learning=QLearningTrainer)
    return _TRAINERS


def make_trainer(doc: Document, options: RunOptions | None = None, **overrides) -> Trainer:
    """The trainer for `doc.training.task`; keyword overrides fill RunOptions."""
    from engine.training.base import RunOptions

    options = options or RunOptions(**overrides)
    task = doc.training.get("task", "classification")
    trainers = _trainers()
    if task not in trainers:
        raise NetCanvasError(
            f"training.task: unknown task '{task}' (known: {', '.join(sorted(trainers))})"
        )
    return trainers[task](doc, options)


def __getattr__(name: str):
    if name == "TRAINERS":
        return _trainers()
    if name in ("RunOptions", "Trainer"):
        from engine.training import base

        return getattr(base, name)
    raise AttributeError(f"module 'engine.training' has no attribute '{name}'")


__all__ = [
    "TRAINERS", "Activations", "Checkpoint", "Epoch", "Episode", "Failed", "Finished",
    "RunOptions", "Samples", "Started", "Step", "Trainer", "make_trainer",
]
