"""What a dataset is to the trainers, and the registry that finds one by name.

Three kinds cover every paradigm: arrays of samples (supervised, sequences,
autoencoders, GANs), one graph (node classification), and an environment
(reinforcement learning). Each registered dataset also tells its input shapes
cheaply, so checking a document never waits on a load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.blocks.base import Shape
from engine.errors import DatasetError
from engine.options import checked

SPLITS = ("train", "val", "test")


@dataclass
class ArrayDataset:
    """Samples along axis 0 of `x` and `y`, with index splits fixed by the seed."""

    name: str
    x: np.ndarray  # (S, ...) float32 features/images, or int64 tokens
    y: np.ndarray | None  # (S,) int64 classes, (S, k) float32 values, (S, T) int64 tokens
    splits: dict[str, np.ndarray]  # "train"/"val"/"test" -> sample indices
    num_classes: int | None = None
    class_names: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def input_shapes(self) -> dict[str, Shape]:
        return {"x": (None, *self.x.shape[1:])}


@dataclass
class GraphDataset:
    """One graph: every node is a sample, masks say which are labelled for training."""

    name: str
    adjacency: np.ndarray  # (V, V) float32, raw 0/1 (GraphConv normalises)
    features: np.ndarray  # (V, F) float32
    labels: np.ndarray  # (V,) int64
    masks: dict[str, np.ndarray]  # "train"/"val"/"test" -> (V,) bool
    num_classes: int
    class_names: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def input_shapes(self) -> dict[str, Shape]:
        return {"adjacency": self.adjacency.shape, "features": self.features.shape}


@dataclass
class EnvironmentDataset:
    """A gymnasium environment; discrete observations are fed one-hot."""

    name: str
    make: Callable[..., Any]  # make(render_mode=None) -> gymnasium.Env
    observation_shape: tuple[int, ...]  # what the network sees (one-hot width if discrete)
    num_actions: int
    num_states: int | None = None  # set when observations are discrete states
    reward_threshold: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def input_shapes(self) -> dict[str, Shape]:
        return {"x": (None, *self.observation_shape)}


Dataset = ArrayDataset | GraphDataset | EnvironmentDataset


@dataclass(frozen=True)
class DataFacts:
    """What checking needs to know of a dataset to judge a network's outputs.

    `target` is the per-sample target shape with the batch axis N, e.g. `(None,)`
    for class ids, `(None, 1)` for one value, `(None, T)` for per-step tokens.
    """

    kind: str  # "arrays", "graph" or "environment"
    inputs: dict[str, Shape]
    num_classes: int | None = None
    target: Shape | None = None
    num_actions: int | None = None
    nodes: int | None = None  # a graph's node count


def facts_of(data: Dataset) -> DataFacts:
    """The facts of a loaded dataset (for entries that declare none more cheaply)."""
    if isinstance(data, GraphDataset):
        nodes = len(data.labels)
        return DataFacts("graph", data.input_shapes(), data.num_classes, (nodes,), nodes=nodes)
    if isinstance(data, EnvironmentDataset):
        return DataFacts("environment", data.input_shapes(), num_actions=data.num_actions)
    target = None if data.y is None else (None, *data.y.shape[1:])
    return DataFacts("arrays", data.input_shapes(), data.num_classes, target)


def class_facts(shapes: dict[str, Shape], classes: int) -> DataFacts:
    """An array dataset of `classes` classes, one id per sample: declared, not loaded."""
    return DataFacts("arrays", shapes, classes, (None,))


@dataclass(frozen=True)
class DatasetEntry:
    """A named dataset: how to load it and, cheaply, what shapes it feeds."""

    name: str
    doc: str
    kind: str  # "arrays", "graph" or "environment"
    load: Callable[[dict[str, Any], int], Dataset]
    shapes: Callable[[dict[str, Any]], dict[str, Shape]]
    options: dict[str, str] = field(default_factory=dict)  # option -> one-line doc
    # Classes, target shape, actions without a load; None: load once (cached) and look.
    facts: Callable[[dict[str, Any]], DataFacts] | None = None


REGISTRY: dict[str, DatasetEntry] = {}
# Called in order with an unknown name; the first that returns an entry wins.
FALLBACKS: list[Callable[[str], DatasetEntry | None]] = []


def register(entry: DatasetEntry) -> DatasetEntry:
    REGISTRY[entry.name] = entry
    return entry


def dataset_spec(training: dict[str, Any]) -> dict[str, Any]:
    """`training.dataset` as a dict: a bare string is shorthand for `{"name": ...}`."""
    spec = training.get("dataset")
    if isinstance(spec, str):
        return {"name": spec}
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return spec
    raise DatasetError("training.dataset: expected a dataset name or {\"name\": ...}")


def find_entry(spec: dict[str, Any]) -> DatasetEntry:
    """The registered entry for `spec["name"]`, or one a fallback (e.g. gymnasium) offers."""
    name = spec["name"]
    if name in REGISTRY:
        return REGISTRY[name]
    for fallback in FALLBACKS:
        entry = fallback(name)
        if entry is not None:
            return entry
    known = ", ".join(sorted(REGISTRY))
    raise DatasetError(f"training.dataset: unknown dataset '{name}' (known: {known})")


def option(spec: dict[str, Any], key: str, default: Any, kind: type = int, *,
           minimum: float | None = None, maximum: float | None = None,
           choices: tuple[Any, ...] | None = None) -> Any:
    """`training.dataset.<key>` checked (see engine/options.py), or `default` when absent."""
    return checked(spec.get(key, default), f"training.dataset.{key}", default, kind,
                   minimum=minimum, maximum=maximum, choices=choices, error=DatasetError)
