"""The declaration language of training settings: a typed setting and a section of them.

Blocks declare their parameters as data (`engine/blocks/base.py`); the training
section of a document is declared the same way, so the trainers' defaults, the
loader's type checks, `netcanvas check`, the Training tab and
`docs/training_settings.md` all read one declaration. This module imports
nothing heavy: the loader and the checker use it without loading a trainer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# int, float, bool, str: JSON scalars. choice: a string out of `choices`. floats: a list
# of numbers (`length` of them). dataset: a name or {"name": ..., options}. device: auto,
# cpu, cuda, cuda:N, mps. object: a JSON object the declaring setting's doc describes.
SETTING_KINDS = ("int", "float", "bool", "str", "choice", "floats", "dataset", "device", "object")


def describe(value: Any) -> str:
    """`"fast"`, `-1`, `[1, 2]`: a value as it was written in the JSON file."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Setting:
    """One key of `training` (or of one of its sections): type, default, range and doc.

    `default` is what a trainer uses when the document leaves the key out; `None`
    means it is worked out at run time, as `computed` says. `by_task` and `by_name`
    are defaults that depend on the task, or on the section's `name` (Adam vs AdamW).
    """

    key: str
    kind: str
    default: Any
    doc: str
    section: str = ""  # "" for a top-level key, else the section's name
    low: float | None = None
    high: float | None = None
    open_low: bool = False  # `low` itself is not allowed (lr > 0)
    open_high: bool = False
    choices: tuple[Any, ...] = ()
    tasks: tuple[str, ...] = ()  # the tasks that read it; () means every task
    names: tuple[str, ...] = ()  # in a named section: the names it applies to (() = all)
    by_task: Mapping[str, Any] = field(default_factory=dict)
    by_name: Mapping[str, Any] = field(default_factory=dict)
    task_choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # per task
    computed: str = ""  # how an absent value is worked out, when `default` is None
    length: int | None = None  # for floats: how many
    label: str = ""  # the Training tab's label
    fold_case: bool = False  # a choice read case-insensitively ("Adam" is adam)

    def __post_init__(self) -> None:
        if self.kind not in SETTING_KINDS:
            raise ValueError(f"setting {self.path}: unknown kind '{self.kind}'")

    @property
    def path(self) -> str:
        """`training.optimizer.lr`: where the setting lives in the document."""
        return ".".join(["training", *([self.section] if self.section else []), self.key])

    @property
    def title(self) -> str:
        return self.label or self.key.replace("_", " ").capitalize()

    # ---- what applies where -----------------------------------------------------------

    def applies_to(self, task: str | None, name: str | None = None) -> bool:
        """Whether a run of `task` (with section name `name`) reads this setting."""
        by_task = not self.tasks or task is None or task in self.tasks
        by_name = not self.names or name is None or name in self.names
        return by_task and by_name

    def default_for(self, task: str | None = None, name: str | None = None) -> Any:
        if name is not None and name in self.by_name:
            return self.by_name[name]
        if task is not None and task in self.by_task:
            return self.by_task[task]
        return self.default

    def choices_for(self, task: str | None = None) -> tuple[Any, ...]:
        return self.task_choices.get(task, self.choices) if task else self.choices

    # ---- checking a value ---------------------------------------------------------------

    def expected(self, task: str | None = None) -> str:
        """`a number > 0`, `an integer ≥ 1`, `one of adam, sgd`: what a value must be."""
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices_for(task)))
        noun = {"int": "an integer", "float": "a number", "bool": "true or false",
                "str": "a string", "dataset": 'a dataset name or {"name": ...}',
                "device": "auto, cpu, cuda, cuda:N or mps", "object": "an object",
                "floats": f"a list of {self.length or 'some'} numbers"}[self.kind]
        return noun + self._range_text()

    def _range_text(self) -> str:
        lo = None if self.low is None else ("> " if self.open_low else "≥ ") + _num(self.low)
        hi = None if self.high is None else ("< " if self.open_high else "≤ ") + _num(self.high)
        if lo and hi and not self.open_low and not self.open_high:
            return f" from {_num(self.low)} to {_num(self.high)}"
        parts = [p for p in (lo, hi) if p]
        return (" " + " and ".join(parts)) if parts else ""

    def type_error(self, value: Any) -> str | None:
        """Why `value` has the wrong JSON type (a load error), or None."""
        kind = self.kind
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool)
            or isinstance(value, float) and value.is_integer(),
            "float": _is_number(value),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "choice": isinstance(value, str),
            "device": isinstance(value, str),
            "floats": isinstance(value, list) and all(_is_number(v) for v in value),
            "dataset": isinstance(value, str)
            or isinstance(value, dict) and isinstance(value.get("name"), str),
            "object": isinstance(value, dict),
        }[kind]
        return None if ok else f"expected {self.expected()}, got {describe(value)}"

    def range_error(self, value: Any, task: str | None = None) -> str | None:
        """Why a well-typed `value` is out of range or not a known name (a check error)."""
        bad = False
        if self.kind == "choice":
            bad = (value.lower() if self.fold_case else value) not in self.choices_for(task)
        elif self.kind in ("int", "float"):
            bad = not self._in_range(value)
        elif self.kind == "floats":
            bad = (self.length is not None and len(value) != self.length) or not all(
                self._in_range(v) for v in value)
        if bad:
            return f"expected {self.expected(task)}, got {describe(value)}"
        return None

    def _in_range(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or self.open_low and value == self.low):
            return False
        return self.high is None or not (value > self.high or self.open_high and value == self.high)


@dataclass(frozen=True)
class Section:
    """A JSON object under `training` (`optimizer`, `dqn`, ...) and the settings it holds.

    A section with a `shorthand` may be written as a bare string: `"optimizer": "sgd"`
    means `{"name": "sgd"}`.
    """

    name: str
    doc: str
    settings: tuple[Setting, ...]
    tasks: tuple[str, ...] = ()
    shorthand: str | None = None
    label: str = ""
    extra_keys: tuple[str, ...] = field(default=())  # read by other code, not declared here

    def setting(self, key: str) -> Setting | None:
        return next((s for s in self.settings if s.key == key), None)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def applies_to(self, task: str | None) -> bool:
        return not self.tasks or task is None or task in self.tasks

    def normalised(self, value: Any) -> dict[str, Any]:
        """The section as a dict: missing or null is {}, the shorthand string is expanded."""
        if value is None:
            return {}
        if isinstance(value, str) and self.shorthand:
            return {self.shorthand: value}
        return value if isinstance(value, dict) else {}
