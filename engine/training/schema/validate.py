"""Checking a document's `training` section against the declaration.

The policy is the one block parameters follow (docs/architecture.md): a value of
the wrong JSON type is a load error with its path, because no editor field
could show it; an out-of-range value, an unknown name (task, loss, optimizer,
dataset, device) or a setting the declaration does not know loads, so it can
be fixed in the editor, and `check` reports it (errors for values a run would
refuse, warnings for keys that are kept but never read).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from engine.training.schema.declared import OPTIMIZER, SECTIONS, TOP_SETTINGS
from engine.training.schema.spec import Section, Setting, describe

DEVICE = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)", re.IGNORECASE)
GAN_NETWORKS = ("generator", "discriminator")


class Finding(NamedTuple):
    """One thing wrong with the training section.

    `level`: type (a load error), value (a check error), unknown (a key kept but not read)
    or unavailable (a device this machine lacks); the last two are warnings.
    """

    level: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def first_type_error(training: dict[str, Any]) -> tuple[str, str] | None:
    """(JSON path, reason) of the first value of the wrong JSON type, or None.

    The loader raises this as a load error (see the module doc for why only these).
    """
    found = next((f for f in findings(training) if f.level == "type"), None)
    return (found.path, found.message) if found else None


def problems(training: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(errors, warnings) as lines `training.x.y: what is wrong`, for `check`."""
    errors: list[str] = []
    warnings: list[str] = []
    for found in findings(training):
        (errors if found.level in ("type", "value") else warnings).append(str(found))
    return errors, warnings


def findings(training: dict[str, Any]) -> Iterator[Finding]:
    """Everything wrong with `training`, top-level keys first, in the file's order."""
    task = training.get("task", TOP_SETTINGS["task"].default)
    task = task if isinstance(task, str) and task in TOP_SETTINGS["task"].choices else None
    for key, value in training.items():
        if key in TOP_SETTINGS:
            yield from _value(TOP_SETTINGS[key], value, f"training.{key}", task)
        elif key in SECTIONS:
            yield from _section(SECTIONS[key], value, f"training.{key}", task)
        else:
            yield _unknown(f"training.{key}", key, [*TOP_SETTINGS, *SECTIONS])


def _value(setting: Setting, value: Any, path: str, task: str | None,
           name: str | None = None) -> Iterator[Finding]:
    problem = setting.type_error(value)
    if problem:
        yield Finding("type", path, problem)
        return
    if not setting.applies_to(task, name):
        return
    problem = setting.range_error(value, task)
    if problem:
        yield Finding("value", path, problem)
    elif setting.kind == "device":
        yield from _device(value, path)
    elif setting.kind == "dataset":
        yield from _dataset(value, path)


def _section(section: Section, value: Any, path: str, task: str | None) -> Iterator[Finding]:
    if value is None:
        return
    if isinstance(value, str) and section.shorthand:
        shorthand = section.setting(section.shorthand)
        yield from _value(shorthand, value, path, task)
        return
    if not isinstance(value, dict):
        what = f"a {section.shorthand} or an object" if section.shorthand else "an object"
        yield Finding("type", path, f"expected {what} of {section.name} settings, "
                                    f"got {describe(value)}")
        return
    name = value.get("name") if isinstance(value.get("name"), str) else None
    name = name.lower() if name else None
    for key, item in value.items():
        setting = section.setting(key)
        where = f"{path}.{key}"
        if setting is None:
            yield _unknown(where, key, [s.key for s in section.settings] + list(section.extra_keys))
            continue
        yield from _value(setting, item, where, task, name)
        if setting.key == "optimizers" and section.name == "gan" and isinstance(item, dict):
            yield from _per_network(item, where, task)


def _per_network(optimizers: dict[str, Any], path: str, task: str | None) -> Iterator[Finding]:
    """`training.gan.optimizers`: one optimizer object per network."""
    for network, spec in optimizers.items():
        if network not in GAN_NETWORKS:
            yield _unknown(f"{path}.{network}", network, list(GAN_NETWORKS))
        yield from _section(OPTIMIZER, spec, f"{path}.{network}", task)


def _unknown(path: str, key: str, known: list[str], what: str = "unknown setting") -> Finding:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return Finding("unknown", path, f"{what}, kept but not read{hint}")


def _device(value: str, path: str) -> Iterator[Finding]:
    """A device name; one this machine lacks is only a warning (the file may be meant for
    another machine, and `--device` overrides it), since the run would refuse it."""
    if not DEVICE.fullmatch(value):
        yield Finding("value", path, f"expected {TOP_SETTINGS['device'].expected()}, "
                                     f"got {describe(value)}")
        return
    kind, _, index = value.lower().partition(":")
    if kind in ("auto", "cpu"):  # always there: no need to load torch to say so
        return
    import torch  # only for a GPU name: `check` of an ordinary document stays torch-free

    count = torch.cuda.device_count() if kind == "cuda" and torch.cuda.is_available() else 0
    missing = (kind == "cuda" and count <= int(index or 0)
               or kind == "mps" and not torch.backends.mps.is_available())
    if missing:
        yield Finding("unavailable", path, f"{value} is not available on this machine: training "
                                           "here needs another device (auto picks one)")


def _dataset(value: str | dict[str, Any], path: str) -> Iterator[Finding]:
    """A dataset name the registry (or gymnasium) knows; options its entry declares."""
    from engine.data.base import find_entry  # loads the registry; checking already needs it
    from engine.errors import DatasetError

    spec = {"name": value} if isinstance(value, str) else value
    try:
        entry = find_entry(spec)
    except DatasetError as exc:
        yield Finding("value", f"{path}.name" if isinstance(value, dict) else path,
                      str(exc).removeprefix("training.dataset: "))
        return
    if entry.kind == "environment":  # every option is passed on to gymnasium.make
        return
    for key in spec:
        if key != "name" and key not in entry.options:
            yield _unknown(f"{path}.{key}", key, list(entry.options),
                           f"the {entry.name} dataset has no option '{key}'")


def add_training_findings(doc: Any, report: Any) -> Any:
    """`engine.check`'s training pass: errors into `report.problems`, the rest into warnings."""
    errors, warnings = problems(doc.training)
    report.problems.extend(errors)
    report.warnings.extend(warnings)
    return report
