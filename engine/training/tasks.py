"""The supervised tasks as objects: what the target is, how the output is read, what is reported.

`SupervisedTrainer` runs one loop for classification, regression, sequences
and autoencoders; everything that differs between them lives here, one small
object per task, and everything that depends on the loss (class ids, 0/1
labels or real values) in one `Readout` per loss. Adding a task is a class
here and one line in `TASKS`.

What the Results tab shows follows from the final metrics: `confusion_matrix`
(classification) draws the matrix and per-class bars, every `test_*`/`val_*`
number goes into its summary line, and `shows` names the extra view a task
streams during the run ("reconstruction" samples for an autoencoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from engine.errors import NetCanvasError
from engine.training.metrics import classification_report, regression_metrics


@dataclass(frozen=True)
class Readout:
    """How a loss's network output becomes predictions."""

    kind: str  # "classes" (argmax), "binary" (threshold) or "values" (no classes)
    threshold: float = 0.0

    @property
    def class_targets(self) -> bool:
        """Targets are class ids (long), not values (float)."""
        return self.kind == "classes"

    def predict(self, out: torch.Tensor) -> torch.Tensor | None:
        if self.kind == "classes":
            return out.argmax(-1)
        if self.kind == "binary":
            return (out > self.threshold).long()
        return None


READOUTS = {"cross_entropy": Readout("classes"), "nll": Readout("classes"),
            "bce": Readout("binary", 0.5), "bce_logits": Readout("binary", 0.0)}
VALUES = Readout("values")


def readout(loss: str) -> Readout:
    return READOUTS.get(loss, VALUES)


def matches(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return predicted == target.reshape(predicted.shape).long()


class Task:
    """What a supervised task trains on and reports; subclasses change only what differs."""

    name = "task"
    default_loss = "mse"
    target_field = "y"  # the dataset array the network learns to output
    train_accuracy = False  # count correct predictions during training
    value_metrics = True  # mse/mae when the loss gives no classes
    shows = ""  # extra view the task streams during the run ("reconstruction")

    def target(self, data: Any) -> Any:
        target = data.x if self.target_field == "x" else data.y
        if target is None:
            raise NetCanvasError(f"dataset '{data.name}' has no targets for task '{self.name}'")
        return target

    def chance(self, data: Any, read: Readout) -> float | None:
        """The accuracy of guessing, for the divergence guard; None without classes."""
        if read.kind == "binary":
            return 0.5
        if read.kind == "classes" and data.num_classes:
            return 1.0 / data.num_classes
        return None

    def metrics(self, out: torch.Tensor, target: torch.Tensor, read: Readout) -> dict[str, float]:
        """Metrics of a split, besides its loss."""
        predicted = read.predict(out)
        if predicted is not None:
            return {"accuracy": float(matches(predicted, target).float().mean())}
        if self.value_metrics:
            return regression_metrics(out, target.reshape(out.shape))
        return {}

    def final(self, out: torch.Tensor, target: torch.Tensor, read: Readout, data: Any,
              x_test: torch.Tensor, metrics: dict[str, Any]) -> dict[str, Any]:
        """Extra closing metrics from the test split's outputs."""
        return {}


class Classification(Task):
    name = "classification"
    default_loss = "cross_entropy"
    train_accuracy = True
    value_metrics = False
    shows = "confusion"

    def final(self, out, target, read, data, x_test, metrics):
        predicted = read.predict(out)
        if predicted is None or not data.num_classes:
            return {}
        return classification_report(
            predicted.reshape(-1).cpu().numpy(), target.reshape(-1).long().cpu().numpy(),
            data.num_classes, data.class_names)


class Sequence(Task):
    name = "sequence"
    default_loss = "cross_entropy"
    train_accuracy = True

    def final(self, out, target, read, data, x_test, metrics):
        predicted = read.predict(out)
        if predicted is None or predicted.dim() < 2:
            return {}
        return {"test_sequence_accuracy": float(matches(predicted, target).all(dim=-1)
                                                .float().mean())}


class Regression(Task):
    name = "regression"

    def final(self, out, target, read, data, x_test, metrics):
        """For series (N, T, F) → (N, F'): how many times better than 'next = last'."""
        if x_test.dim() != 3 or target.dim() != 2 or "test_mse" not in metrics:
            return {}
        naive = x_test[:, -1, : target.shape[-1]].to(target.device)
        naive_mse = float(((naive - target.reshape(naive.shape)) ** 2).mean())
        return {"test_naive_mse": naive_mse,
                "test_naive_ratio": naive_mse / max(metrics["test_mse"], 1e-12)}


class Autoencoder(Task):
    name = "autoencoder"
    target_field = "x"
    shows = "reconstruction"


TASKS: dict[str, Task] = {task.name: task for task in
                          (Classification(), Regression(), Sequence(), Autoencoder())}
