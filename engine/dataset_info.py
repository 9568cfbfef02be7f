"""What a document's dataset is, in a line a person reads beside the Dataset box.

`outline` answers at once from the registry and the cached shapes (no load),
`describe` loads the dataset to count samples and classes, so callers run it
off the GUI thread. Neither ever downloads: a dataset that would be fetched
says so instead.
"""

from __future__ import annotations

from typing import Any

from engine.blocks.base import fmt_shape
from engine.data import input_shapes, load_dataset
from engine.data.base import (
    ArrayDataset,
    Dataset,
    EnvironmentDataset,
    GraphDataset,
    dataset_spec,
    find_entry,
)


def downloads(training: dict[str, Any]) -> bool:
    """Whether loading this dataset may fetch files from the network (MNIST, Cora, ...)."""
    return "download" in find_entry(dataset_spec(training)).options


def outline(training: dict[str, Any]) -> str:
    """`arrays · x: N×4`: the dataset's kind and what each Input source receives."""
    entry = find_entry(dataset_spec(training))
    shapes = ", ".join(f"{source}: {fmt_shape(shape)}"
                       for source, shape in input_shapes(training).items())
    return " · ".join(part for part in (entry.kind, shapes) if part)


def describe(training: dict[str, Any]) -> str:
    """The outline plus counts from the loaded dataset (seconds for big sets: not on the
    GUI thread); a dataset that would be downloaded is not loaded."""
    if downloads(training):
        return f"{outline(training)} · downloaded on the first run"
    return summary(load_dataset(training))


def summary(data: Dataset) -> str:
    """Input shape, classes or target shape, and samples per split of a loaded dataset."""
    if isinstance(data, EnvironmentDataset):
        parts = ["environment", f"observation {fmt_shape(data.observation_shape)}",
                 f"{data.num_actions} actions"]
        if data.reward_threshold is not None:
            parts.append(f"solved at {data.reward_threshold:g}")
        return " · ".join(parts)
    if isinstance(data, GraphDataset):
        labelled = " / ".join(f"{int(mask.sum())}" for mask in data.masks.values())
        return (f"graph · {len(data.labels)} nodes × {data.features.shape[1]} features · "
                f"{data.num_classes} classes · labelled {labelled} ({'/'.join(data.masks)})")
    assert isinstance(data, ArrayDataset)
    parts = ["arrays", f"x: {fmt_shape((None, *data.x.shape[1:]))}"]
    if data.num_classes:
        parts.append(f"{data.num_classes} classes")
    elif data.y is not None:
        parts.append(f"target {fmt_shape((None, *data.y.shape[1:]))}")
    counts = " / ".join(f"{len(idx):,}" for idx in data.splits.values())
    parts.append(f"{counts} samples ({'/'.join(data.splits)})")
    return " · ".join(parts)
