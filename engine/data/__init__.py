"""Datasets by name: embedded, downloadable, the user's own files and environments.

`load_dataset(training, seed)` gives the trainers their data; `input_shapes`
answers the shape checker without loading anything large.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.blocks.base import Shape

# Importing each module registers its datasets.
from engine.data import (  # noqa: F401
    downloads,
    embedded,
    environments,
    graphs,
    synthetic,
    tokens,
    user_files,
)
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
    return dict(_cached_shapes(json.dumps(spec, sort_keys=True, default=str), _stamp(spec)))


def _stamp(spec: dict[str, Any]) -> tuple:
    """When the user's file or folder last changed, so an edited file is not answered from
    the cache (a folder's class sub-folders count too: adding a class changes the shapes)."""
    path = spec.get("path")
    if not isinstance(path, str):
        return ()
    try:
        target = Path(path).expanduser()
        stat = target.stat()
        stamp = [(str(target), stat.st_mtime_ns, stat.st_size)]
        if target.is_dir():
            stamp += [(p.name, p.stat().st_mtime_ns) for p in target.iterdir() if p.is_dir()]
        return tuple(sorted(stamp))
    except OSError:
        return ()


@lru_cache(maxsize=256)
def _cached_shapes(spec_json: str, stamp: tuple) -> dict[str, Shape]:
    spec = json.loads(spec_json)
    return find_entry(spec).shapes(spec)


__all__ = [
    "REGISTRY", "ArrayDataset", "Dataset", "DatasetEntry", "DatasetError",
    "EnvironmentDataset", "GraphDataset", "input_shapes", "load_dataset",
]
