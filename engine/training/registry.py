"""The trainer registry: `training.task` -> the trainer that runs it.

Its keys are the task names `engine/training/schema` declares (a test holds the
two equal); the schema keeps its own list so that loading and checking a
document never import a trainer.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.document import Document
from engine.errors import NetCanvasError
from engine.training.base import RunOptions, Trainer
from engine.training.dqn import DqnTrainer
from engine.training.gan import GanTrainer
from engine.training.graph import NodeClassificationTrainer
from engine.training.perceptron import PerceptronTrainer
from engine.training.q_learning import QLearningTrainer
from engine.training.schema import default
from engine.training.supervised import SupervisedTrainer

TrainerFactory = Callable[[Document, RunOptions], Trainer]


def _supervised(task: str) -> TrainerFactory:
    return lambda doc, options: SupervisedTrainer(doc, options, task)


TRAINERS: dict[str, TrainerFactory] = {
    task: _supervised(task) for task in ("classification", "regression", "sequence", "autoencoder")
}
TRAINERS["perceptron"] = PerceptronTrainer
TRAINERS["node_classification"] = NodeClassificationTrainer
TRAINERS["gan"] = GanTrainer
TRAINERS["dqn"] = DqnTrainer
TRAINERS["q_learning"] = QLearningTrainer


def trainer_factory(doc: Document) -> TrainerFactory:
    """What trains `doc.training.task`; an unknown task is refused with the known ones."""
    task = doc.training.get("task", default("", "task"))
    if task not in TRAINERS:
        raise NetCanvasError(
            f"training.task: unknown task '{task}' (known: {', '.join(sorted(TRAINERS))})"
        )
    return TRAINERS[task]


def make_trainer(doc: Document, options: RunOptions | None = None, **overrides) -> Trainer:
    """The trainer for `doc.training.task`; keyword overrides fill RunOptions."""
    return trainer_factory(doc)(doc, options or RunOptions(**overrides))
