"""Datasets by name: embedded, downloadable, the user's own files and environments.

`load_dataset(training, seed)` gives the trainers their data; `input_shapes`
answers the shape checker without loading anything large.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from engine.blocks.base import Shape
from engine.data import embedded  # noqa: F401  (registers the embedded datasets)
from engine.data.base import (
    REGISTRY,
    ArrayDataset,
    Dataset,
    DatasetEntry,
    EnvironmentDataset,
    GraphDataset,
    dataset_spec,
    find_entry,
)
from engine.errors import DatasetError


def load_dataset(training: dict[str, Any], seed: int | None = None) -> Dataset:
    """The dataset `training.dataset` names, split and normalised under `seed`."""
    spec = dataset_spec(training)
    seed = training.get("seed", 0) if seed is None else seed
    return find_entry(spec).load(spec, seed)


def input_shapes(training: dict[str, Any]) -> dict[str, Shape]:
    """What each Input `source` receives, e.g. {"x": (None, 1, 28, 28)}."""
    if "dataset" not in training:
        return {}
    spec = dataset_spec(training)
    return _cached_shapes(json.dumps(spec, sort_keys=True))


@lru_cache(maxsize=256)
def _cached_shapes(spec_json: str) -> dict[str, Shape]:
    spec = json.loads(spec_json)
    return find_entry(spec).shapes(spec)


__all__ = [
    "REGISTRY", "ArrayDataset", "Dataset", "DatasetEntry", "DatasetError",
    "EnvironmentDataset", "GraphDataset", "input_shapes", "load_dataset",
]
