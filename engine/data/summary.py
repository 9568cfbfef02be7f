"""What a dataset is, for a person choosing one: input shape, classes or target, split sizes.

The Training tab shows this next to the dataset picker. Shapes and classes come
from the cheap facts the task check uses; the sample counts need the data, so
this loads it (once per spec and file stamp, cached) and is meant to run off
the GUI thread. A dataset still to be downloaded is not fetched for a summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.blocks.base import Shape, fmt_shape


@dataclass(frozen=True)
class DatasetSummary:
    """Facts worth showing; `splits` is empty when the data was not loaded."""

    name: str
    inputs: dict[str, Shape]
    num_classes: int | None = None
    target: Shape | None = None
    num_actions: int | None = None
    splits: dict[str, int] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    note: str = ""  # why the sample counts are missing
    columns: tuple[str, ...] = ()  # a CSV's header, to choose the target column from
    target_column: str = ""

    def lines(self) -> list[str]:
        """The summary as short lines: "input N×4", "3 classes: setosa, …", "samples …"."""
        out = [f"input {', '.join(f'{k} {fmt_shape(s)}' for k, s in self.inputs.items())}"]
        if self.columns:
            features = [c for c in self.columns if c != self.target_column]
            out.append(f"{len(features)} feature columns: {', '.join(features[:8])}"
                       + (" …" if len(features) > 8 else "") + f"; target: {self.target_column}")
        if self.num_classes:
            names = ", ".join(self.class_names[:6]) + (" …" if len(self.class_names) > 6 else "")
            out.append(f"{self.num_classes} classes" + (f": {names}" if names else ""))
        elif self.target is not None:
            out.append(f"target {fmt_shape(self.target)}")
        if self.num_actions:
            out.append(f"{self.num_actions} actions")
        if self.splits:
            out.append("samples " + " / ".join(f"{self.splits[k]:,} {k}" for k in self.splits))
        elif self.note:
            out.append(self.note)
        return out


def dataset_summary(training: dict[str, Any], base: str | Path | None = None) -> DatasetSummary:
    """The summary of `training.dataset` (cached per spec and file stamp; may load the data)."""
    from engine.data import _stamp, resolved_spec

    spec = resolved_spec(training, base)
    seed = int(training.get("seed", 0) or 0)
    return _cached(json.dumps(spec, sort_keys=True, default=str), _stamp(spec), seed)


@lru_cache(maxsize=32)
def _cached(spec_json: str, stamp: tuple, seed: int) -> DatasetSummary:
    from engine.data import dataset_facts, find_entry

    spec = json.loads(spec_json)
    facts = dataset_facts({"dataset": spec})
    name = spec["name"]
    base = DatasetSummary(name, dict(facts.inputs), facts.num_classes, facts.target,
                          facts.num_actions)
    if facts.kind == "environment":
        return base
    if not _on_disk(name):
        return DatasetSummary(**{**base.__dict__, "note": "samples: counted once downloaded"})
    data = find_entry(spec).load(spec, seed)
    groups = getattr(data, "splits", None) or getattr(data, "masks", {})
    splits = {k: int(v.sum()) if v.dtype == bool else len(v) for k, v in groups.items()}
    names = tuple(str(n) for n in (getattr(data, "class_names", None) or ()))
    info = getattr(data, "info", {})
    columns = tuple(_csv_header(spec)) if name == "csv" else ()
    return DatasetSummary(**{**base.__dict__, "splits": splits, "class_names": names,
                             "columns": columns, "target_column": str(info.get("target", ""))})


def _csv_header(spec: dict[str, Any]) -> list[str]:
    from engine.data.csv_table import open_csv

    header, _, handle, _ = open_csv(Path(spec["path"]).expanduser())
    handle.close()
    return header


def _on_disk(name: str) -> bool:
    """False for a downloadable dataset whose files are not in the cache yet."""
    from engine.data.downloads import SOURCES, cache_dir

    if name not in SOURCES:
        return True
    return all((cache_dir(name) / remote.name).is_file() for remote in SOURCES[name])


__all__ = ["DatasetSummary", "dataset_summary"]
