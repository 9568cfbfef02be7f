"""Rosenblatt's perceptron learning rule, run as the 1958 algorithm rather than as SGD.

The point of the preset is to show the historical rule: present one sample at a
time, and only when the thresholded output is wrong move the weights by
lr·(y − ŷ)·x. No loss, no gradient; the number of mistakes is what falls, and the
convergence theorem promises it reaches zero on linearly separable data.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from engine.data import ArrayDataset
from engine.errors import NetCanvasError
from engine.training.base import Trainer
from engine.training.feeding import batches, check_sources, input_sources, to_tensor
from engine.training.metrics import classification_report
from engine.training.settings import chain_blocks, section, setting, value

EXPECTED = ("network 'main' must be Input → Linear(out_features=1, or one unit per class) → Step "
            "→ Output (a Flatten before the Linear is allowed)")


class PerceptronTrainer(Trainer):
    """Online, mistake-driven updates of one Linear layer followed by a Step."""

    task = "perceptron"
    autocast_applies = False  # its update is a rule on the weights: precision stays fp32

    def setup(self) -> None:
        self.linear_id = self._check_architecture()
        data = self.load_data()
        if not isinstance(data, ArrayDataset) or data.y is None:
            raise NetCanvasError("the perceptron needs a labelled array dataset (e.g. 'blobs')")
        self.data = data
        self.model = self.build("main")
        check_sources(input_sources(self.doc, "main", self.model), {"x"}, "main")
        self.linear: torch.nn.Linear = getattr(self.model, self.linear_id)
        self.units = self.linear.out_features
        self.num_classes = int(data.num_classes or int(data.y.max()) + 1)
        self._check_labels(data.y)
        self.lr = self._learning_rate()
        self.converged = False
        if not self.options.resume and setting(self.training, "perceptron", "init") == "zeros":
            with torch.no_grad():  # Rosenblatt starts from nothing; the result is seed-free
                self.linear.weight.zero_()
                if self.linear.bias is not None:
                    self.linear.bias.zero_()
        self.x = to_tensor(data.x, self.device).float()
        self.y = to_tensor(data.y, self.device).long()
        self.splits = {k: torch.from_numpy(v).long() for k, v in data.splits.items()}
        self.chunk = value(self.training, "batch_size")  # the schema says 32 for the perceptron
        self.steps_per_epoch = max(1, -(-len(self.splits["train"]) // self.chunk))

    def _check_architecture(self) -> str:
        chain = chain_blocks(self.doc, "main")
        ids, blocks = [n for n, _ in chain], [b for _, b in chain]
        middle = blocks[1:-1]
        if middle and middle[0] == "Flatten":
            middle = middle[1:]
        if not blocks or blocks[-1] != "Output" or middle != ["Linear", "Step"]:
            found = " → ".join(blocks) if blocks else "a branching graph"
            raise NetCanvasError(f"{EXPECTED}; found {found}")
        return ids[blocks.index("Linear")]

    def _check_labels(self, y: np.ndarray) -> None:
        if self.units == 1 and self.num_classes != 2:
            raise NetCanvasError(
                f"the dataset has {self.num_classes} classes but the Linear has one unit: set "
                f"out_features to {self.num_classes} (one-vs-rest) or use a two-class dataset")
        if self.units > 1 and self.units != self.num_classes:
            raise NetCanvasError(
                f"the Linear has {self.units} units but the dataset has {self.num_classes} classes: "
                f"set out_features to 1 (two classes) or {self.num_classes} (one unit per class)")
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise NetCanvasError("the perceptron needs integer class labels (0/1, or 0..k-1)")

    def _learning_rate(self) -> float:
        if "lr" in section(self.training, "perceptron"):
            return setting(self.training, "perceptron", "lr")
        optimizer = self.training.get("optimizer")
        if isinstance(optimizer, dict) and "lr" in optimizer:
            return float(optimizer["lr"])
        return 1.0

    # ---- the loop's hooks ------------------------------------------------------

    def learning_rate(self) -> float:
        return self.lr  # the rule's rate; there is no optimizer

    def begin_epoch(self) -> None:
        self.errors = 0

    def batches(self) -> Iterator[torch.Tensor]:
        return batches(self.splits["train"], self.chunk, self.generator)

    def train_step(self, idx: torch.Tensor) -> tuple[float, int, dict[str, float]]:
        """A chunk of samples shown one by one; the 'loss' is the mistakes it made."""
        mistakes = self._present(idx)
        self.errors += mistakes
        return float(mistakes), len(idx), {}

    def end_epoch(self) -> tuple[dict[str, float], dict[str, float]]:
        self.converged = self.errors == 0  # the convergence theorem's end: nothing to correct
        train = {"errors": float(self.errors), "accuracy": self.accuracy("train")}
        return train, {"accuracy": self.accuracy("val")}

    @torch.no_grad()
    def _present(self, idx: torch.Tensor) -> int:
        """Show samples one by one; returns how many were misclassified (and corrected)."""
        mistakes = 0
        weight, bias = self.linear.weight, self.linear.bias  # (k, F), (k,)
        for j in idx.tolist():
            x = self.x[j : j + 1].to(self.device)  # (1, ...): data over 1 GiB stays on the host
            predicted = self.forward(self.model, x).reshape(-1)  # (k,) of 0/1
            delta = self._targets(self.y[j].to(self.device)) - predicted  # (k,) in {-1, 0, 1}
            if bool(delta.any()):
                mistakes += 1
                change = self.lr * delta[:, None] * x.reshape(1, -1)  # (k, F)
                self.check_loss(change.sum())  # a NaN feature stops the run before the update
                weight.add_(change)
                if bias is not None:
                    bias.add_(self.lr * delta)
        return mistakes

    def _targets(self, label: torch.Tensor) -> torch.Tensor:
        """0/1 target per unit: the label itself, or one-vs-rest for k units."""
        if self.units == 1:
            return label.reshape(1).float()
        return (torch.arange(self.units, device=label.device) == label).float()

    # ---- evaluation ------------------------------------------------------------

    @torch.no_grad()
    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        """Class per sample: the step output for one unit, the highest score for k."""
        x = self.x[idx].to(self.device)
        if self.units == 1:
            return self.forward(self.model, x).reshape(-1).long()
        scores = self.linear(x.reshape(len(x), -1))  # (N, k) before the Step
        return scores.argmax(-1)

    def accuracy(self, split: str) -> float:
        idx = self.splits.get(split)
        if idx is None or len(idx) == 0:
            idx = self.splits["train"]
        return float((self.predict(idx) == self.y[idx].to(self.device)).float().mean())

    def final_metrics(self) -> dict:
        metrics: dict = {f"{s}_accuracy": self.accuracy(s) for s in ("train", "val", "test")}
        metrics.update(converged=self.converged, epochs_run=self.epoch)
        idx = self.splits["test"] if len(self.splits.get("test", [])) else self.splits["train"]
        metrics.update(classification_report(
            self.predict(idx).cpu().numpy(), self.y[idx].cpu().numpy(), self.num_classes,
            [str(n) for n in self.data.class_names] if self.data.class_names else None))
        return metrics
