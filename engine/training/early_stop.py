"""Early stopping: end a run once validation stops improving, with the best epoch's weights.

Read from `training.early_stopping` ({patience, metric, min_delta}, declared in
engine/training/schema). The trainer base's epoch loop asks `update` after each
epoch and stops when it says so; at the end of the run the weights of the best
epoch are put back, so the test metrics and the saved model are the best ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.training.settings import setting


class EarlyStopping:
    """Tracks the best validation value and the weights that reached it."""

    def __init__(self, training: dict) -> None:
        self.patience = int(setting(training, "early_stopping", "patience"))
        self.metric = str(setting(training, "early_stopping", "metric"))
        self.min_delta = float(setting(training, "early_stopping", "min_delta"))
        self.lower_is_better = self.metric.endswith("loss")
        self.best: float | None = None
        self.best_epoch = 0
        self.waited = 0
        self.stopped_epoch: int | None = None
        self._state: dict[str, dict[str, torch.Tensor]] = {}

    @property
    def enabled(self) -> bool:
        return self.patience > 0

    def update(self, epoch: int, val: dict[str, float], models: dict[str, nn.Module]) -> bool:
        """Record epoch `epoch`'s validation; True when training should stop now."""
        value = val.get(self.metric.removeprefix("val_"))
        if value is None or not math.isfinite(value):
            return False  # no validation split: nothing to judge by
        if self.best is None or self._improves(value):
            self.best, self.best_epoch, self.waited = value, epoch, 0
            self._state = {n: {k: v.detach().clone() for k, v in m.state_dict().items()}
                           for n, m in models.items()}
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def _improves(self, value: float) -> bool:
        if self.lower_is_better:
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def summary(self) -> dict[str, int | bool]:
        """For the run's metrics: the epoch whose weights were kept, and whether it stopped."""
        return {"best_epoch": self.best_epoch, "stopped_early": self.stopped_epoch is not None}

    def restore_best(self, models: dict[str, nn.Module]) -> None:
        """Put the best epoch's weights back into `models` (nothing if none was recorded)."""
        with torch.no_grad():
            for name, state in self._state.items():
                models[name].load_state_dict(state)


__all__ = ["EarlyStopping"]
