"""Datasets that ship with the program's dependencies and work offline."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.base import ArrayDataset, DatasetEntry, class_facts, register
from engine.data.splits import split_indices, standardize


def _iris(spec: dict[str, Any], seed: int) -> ArrayDataset:
    from sklearn import datasets as sk  # on use: importing scikit-learn takes a second
    bunch = sk.load_iris()
    features = spec.get("features", 4)
    x = bunch.data[:, -features:] if features == 2 else bunch.data  # petal length/width
    y = bunch.target.astype(np.int64)
    splits = split_indices(len(y), seed, y)
    return ArrayDataset("iris", standardize(x, splits["train"]), y, splits, 3,
                        list(bunch.target_names))


register(DatasetEntry(
    "iris", "Fisher's iris flowers: 150 samples, 4 measurements (or the 2 petal ones), 3 species.",
    "arrays", _iris, lambda spec: {"x": (None, spec.get("features", 4))},
    {"features": "4 (all) or 2 (petal length and width)"},
    facts=lambda spec: class_facts({"x": (None, spec.get("features", 4))}, 3),
))


def _digits(spec: dict[str, Any], seed: int) -> ArrayDataset:
    from sklearn import datasets as sk  # on use: importing scikit-learn takes a second
    bunch = sk.load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]  # (S, 1, 8, 8) in [0, 1]
    size = spec.get("image_size", 8)
    if size != 8:
        import torch  # here, not at the top: checking a document's shapes needs no torch

        resized = torch.nn.functional.interpolate(
            torch.from_numpy(images), size=(size, size), mode="bilinear", align_corners=False
        )
        images = resized.clamp(0, 1).numpy()
    y = bunch.target.astype(np.int64)
    return ArrayDataset("digits", images, y, split_indices(len(y), seed, y), 10,
                        [str(d) for d in range(10)])


register(DatasetEntry(
    "digits", "scikit-learn's 1,797 handwritten digits, 8×8 in [0, 1]; image_size resizes.",
    "arrays", _digits,
    lambda spec: {"x": (None, 1, spec.get("image_size", 8), spec.get("image_size", 8))},
    {"image_size": "side in pixels after bilinear resizing (8 = original, 28 = MNIST-like)"},
    facts=lambda spec: class_facts(
        {"x": (None, 1, spec.get("image_size", 8), spec.get("image_size", 8))}, 10),
))
