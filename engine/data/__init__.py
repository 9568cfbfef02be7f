"""Datasets by name: embedded, downloadable, the user's own files and environments.

`load_dataset(training, seed)` gives the trainers their data; `input_shapes`
answers the shape checker without loading anything large, and `dataset_facts`
tells the task check the class count, target shape or action count (declared
by most datasets; the rest are loaded once and cached).

Relative data paths (CSV, npz, image folders) are taken from `base`, the
folder of the document that names them (`data_folder(doc)`), so a document and
its data move together; an unsaved document uses the working directory.
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
    DataFacts,
    Dataset,
    DatasetEntry,
    EnvironmentDataset,
    GraphDataset,
    dataset_spec,
    facts_of,
    find_entry,
)
from engine.data.streaming import settle, with_choice
from engine.errors import DatasetError


def data_folder(doc: Any) -> Path | None:
    """The folder relative data paths of `doc` are taken from: where it was loaded from."""
    path = getattr(doc, "path", None)
    return Path(path).expanduser().resolve().parent if path else None


def resolved_spec(training: dict[str, Any], base: str | Path | None = None) -> dict[str, Any]:
    """`training.dataset` as a dict, a relative `path` joined to `base` when there is one."""
    spec = dataset_spec(training)
    path = spec.get("path")
    if base is not None and isinstance(path, str) and path:
        target = Path(path).expanduser()
        if not target.is_absolute():
            spec = {**spec, "path": str(Path(base) / target)}
    return spec


def load_dataset(training: dict[str, Any], seed: int | None = None,
                 base: str | Path | None = None) -> Dataset:
    """The dataset `training.dataset` names, split and normalised under `seed`."""
    spec = resolved_spec(training, base)
    seed = training.get("seed", 0) if seed is None else seed
    return settle(find_entry(spec).load(with_choice(spec, training), seed), training)  # streamed or in memory


def input_shapes(training: dict[str, Any], base: str | Path | None = None) -> dict[str, Shape]:
    """What each Input `source` receives, e.g. {"x": (None, 1, 28, 28)}."""
    if "dataset" not in training:
        return {}
    spec = resolved_spec(training, base)
    return dict(_cached_shapes(json.dumps(spec, sort_keys=True, default=str), _stamp(spec)))


def dataset_facts(training: dict[str, Any], base: str | Path | None = None) -> DataFacts | None:
    """Classes, target shape and actions of the dataset, or None when no dataset is named."""
    if "dataset" not in training:
        return None
    spec = resolved_spec(training, base)
    return _cached_facts(json.dumps(spec, sort_keys=True, default=str), _stamp(spec))


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


@lru_cache(maxsize=64)
def _cached_facts(spec_json: str, stamp: tuple) -> DataFacts:
    spec = json.loads(spec_json)
    entry = find_entry(spec)
    if entry.facts is not None:
        return entry.facts(spec)
    return facts_of(entry.load(spec, 0))


@lru_cache(maxsize=256)
def _cached_shapes(spec_json: str, stamp: tuple) -> dict[str, Shape]:
    spec = json.loads(spec_json)
    return find_entry(spec).shapes(spec)


__all__ = [
    "REGISTRY", "ArrayDataset", "DataFacts", "Dataset", "DatasetEntry", "DatasetError",
    "EnvironmentDataset", "GraphDataset", "data_folder", "dataset_facts", "input_shapes",
    "load_dataset", "resolved_spec",
]
