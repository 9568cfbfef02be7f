"""Metrics reported at the end of a run: accuracy, per-class accuracy, confusion, MSE."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import confusion_matrix


def classification_report(predicted: np.ndarray, target: np.ndarray, num_classes: int,
                          class_names: list[str] | None = None) -> dict:
    """Confusion matrix (rows: true class) and per-class accuracy, JSON-ready."""
    matrix = confusion_matrix(target, predicted, labels=list(range(num_classes)))
    totals = matrix.sum(axis=1)
    per_class = np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), 0.0)
    names = class_names or [str(i) for i in range(num_classes)]
    return {
        "confusion_matrix": matrix.tolist(),
        "per_class_accuracy": {names[i]: float(per_class[i]) for i in range(num_classes)},
        "class_names": list(names),
    }


def regression_metrics(out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    error = out.float() - target.float()
    return {"mse": float((error**2).mean()), "mae": float(error.abs().mean())}
