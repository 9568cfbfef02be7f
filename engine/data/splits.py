"""Deterministic train/validation/test splits and normalisation under a seed."""

from __future__ import annotations

import numpy as np

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def split_indices(count: int, seed: int, labels: np.ndarray | None = None,
                  fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> dict[str, np.ndarray]:
    """Shuffle `count` samples into train/val/test, stratified by `labels` when given."""
    from sklearn.model_selection import train_test_split  # on use: a slow import

    indices = np.arange(count)
    train_frac, val_frac, test_frac = fractions
    rest = val_frac + test_frac
    stratify = labels if labels is not None and _stratifiable(labels, rest, count) else None
    train, other = train_test_split(indices, test_size=rest, random_state=seed, stratify=stratify)
    other_labels = labels[other] if stratify is not None else None
    if other_labels is not None and not _stratifiable(other_labels, test_frac / rest, len(other)):
        other_labels = None
    val, test = train_test_split(other, test_size=test_frac / rest, random_state=seed,
                                 stratify=other_labels)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _stratifiable(labels: np.ndarray, fraction: float, count: int) -> bool:
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        return False
    _, counts = np.unique(labels, return_counts=True)
    classes = len(counts)
    return counts.min() >= 2 and classes <= fraction * count and classes <= (1 - fraction) * count


def standardize(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per feature, with statistics from the training split only."""
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
