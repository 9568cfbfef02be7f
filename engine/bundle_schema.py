"""The shape of a bundle's `metrics.json` and training state, checked when it loads.

The GUI draws a bundle's curves and confusion matrix and reads its counters
long after opening it; a field of the wrong type would crash it there (an
`epoch_train` of `[1]`, an `epoch` of `"zz"`). Every field NetCanvas reads is
checked here instead, and a wrong one is a DocumentError naming its JSON path
(`metrics.json:history.epoch_train[0]`). Fields NetCanvas does not know are
kept as they are: other programs may add their own.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from engine.errors import DocumentError

METRICS = "metrics.json"
STATE = "train_state.json"
HISTORY_EPOCHS = ("epoch_train", "epoch_val")  # lists of {name: number} per epoch
HISTORY_NUMBERS = ("episode_reward", "episode_length", "step_loss")
NUMBER_METRICS = ("eval_mean_reward", "eval_success_rate")
COUNTERS = ("step", "epoch", "episode")
RNG_STATES = ("shuffle", "torch")


class _Fields:
    """Type checks that raise a DocumentError at `member:path`."""

    def __init__(self, file: str, member: str) -> None:
        self.file, self.member = file, member

    def fail(self, path: str, reason: str) -> DocumentError:
        return DocumentError(self.file, f"{self.member}:{path}", reason)

    def object(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        return value

    def list(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def number(self, value: Any, path: str) -> float:
        """A number, or null (how a NaN is written); read back as a float."""
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, got {_kind(value)}")
        return value

    def count(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(path, f"expected a whole number ≥ 0, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    shown = repr(value)[:30] if isinstance(value, str | int | float | bool) else ""
    return names.get(type(value), type(value).__name__) + (f" ({shown})" if shown else "")


# ---- metrics.json --------------------------------------------------------------------


def validate_metrics(metrics: Any, file: str) -> dict[str, Any]:
    """The metrics with every field NetCanvas reads checked; NaN (null) numbers as floats."""
    f = _Fields(file, METRICS)
    if not isinstance(metrics, dict):
        raise DocumentError(file, METRICS, f"expected a JSON object of metrics, got {_kind(metrics)}")
    metrics = dict(metrics)
    if "history" in metrics:
        metrics["history"] = _history(f, metrics["history"])
    for key in NUMBER_METRICS:
        if key in metrics:
            metrics[key] = f.number(metrics[key], key)
    if "env_steps" in metrics:
        f.count(metrics["env_steps"], "env_steps")
    size = _confusion(f, metrics)
    if "class_names" in metrics:
        names = f.list(metrics["class_names"], "class_names")
        for i, name in enumerate(names):
            if isinstance(name, bool) or not isinstance(name, str | int):
                raise f.fail(f"class_names[{i}]", f"expected a name, got {_kind(name)}")
        if size is not None and len(names) != size:
            raise f.fail("class_names", f"{len(names)} names for a {size}×{size} confusion matrix")
    if "per_class_accuracy" in metrics:
        per_class = f.object(metrics["per_class_accuracy"], "per_class_accuracy")
        metrics["per_class_accuracy"] = {
            k: f.number(v, f"per_class_accuracy.{k}") for k, v in per_class.items()}
    return metrics


def _history(f: _Fields, history: Any) -> dict[str, list]:
    history = dict(f.object(history, "history"))
    for key, series in history.items():
        f.list(series, f"history.{key}")
    for key in HISTORY_EPOCHS:
        records = history.get(key, [])
        history[key] = [_epoch_record(f, record, f"history.{key}[{i}]")
                        for i, record in enumerate(records)]
    for key in HISTORY_NUMBERS:
        if key in history:
            history[key] = [f.number(v, f"history.{key}[{i}]") for i, v in enumerate(history[key])]
    return history


def _epoch_record(f: _Fields, record: Any, path: str) -> dict[str, float]:
    record = f.object(record, path)
    return {name: f.number(value, f"{path}.{name}") for name, value in record.items()}


def _confusion(f: _Fields, metrics: dict[str, Any]) -> int | None:
    """The confusion matrix's size after checking it is a square of counts."""
    if "confusion_matrix" not in metrics:
        return None
    rows = f.list(metrics["confusion_matrix"], "confusion_matrix")
    for i, row in enumerate(rows):
        f.list(row, f"confusion_matrix[{i}]")
        if len(row) != len(rows):
            raise f.fail(f"confusion_matrix[{i}]",
                         f"{len(row)} columns in a matrix of {len(rows)} rows (it must be square)")
        for j, value in enumerate(row):
            f.count(value, f"confusion_matrix[{i}][{j}]")
    return len(rows)


# ---- train_state.json -----------------------------------------------------------------


def validate_train_state(state: Any, file: str) -> dict[str, Any]:
    """The resume state (decoded, tensors in place) with every field a trainer reads checked."""
    f = _Fields(file, STATE)
    if not isinstance(state, dict):
        raise DocumentError(file, STATE, f"expected a JSON object, got {_kind(state)}")
    if "task" in state and not isinstance(state["task"], str):
        raise f.fail("task", f"expected a task name, got {_kind(state['task'])}")
    for key in COUNTERS:
        if key in state:
            f.count(state[key], key)
    if "epsilon" in state:
        f.number(state["epsilon"], "epsilon")
    for name, saved in f.object(state.get("optimizers", {}), "optimizers").items():
        _optimizer(f, saved, f"optimizers.{name}")
    rng = state.get("rng", {})  # the trainers' {shuffle, torch}; a caller may save its own
    for key in RNG_STATES if isinstance(rng, dict) else ():
        if key in rng:
            _rng_state(f, rng[key], f"rng.{key}")
    return state


def _optimizer(f: _Fields, saved: Any, path: str) -> None:
    """An optimizer's state_dict: what `load_state_dict` needs to not crash."""
    saved = f.object(saved, path)
    f.object(saved.get("state", {}), f"{path}.state")
    for i, group in enumerate(f.list(saved.get("param_groups", []), f"{path}.param_groups")):
        where = f"{path}.param_groups[{i}]"
        group = f.object(group, where)
        for j, index in enumerate(f.list(group.get("params"), f"{where}.params")):
            f.count(index, f"{where}.params[{j}]")


def _rng_state(f: _Fields, value: Any, path: str) -> None:
    expected = torch.get_rng_state()
    if not isinstance(value, torch.Tensor):
        raise f.fail(path, f"expected a random-generator state tensor, got {_kind(value)}")
    if value.dtype != expected.dtype or value.shape != expected.shape:
        raise f.fail(path, f"expected a {expected.dtype} tensor of shape {tuple(expected.shape)}, "
                     f"got {value.dtype} {tuple(value.shape)}")
