"""The training settings of a document, declared as data (as blocks are).

`declared.py` holds every setting with its type, default, range, doc and the
tasks that read it; `spec.py` is the declaration language; `validate.py` checks
a document against it (load errors and `check` findings); `docs.py` writes
docs/training_settings.md from it. Importing this package loads no trainer.
"""

from __future__ import annotations

from typing import Any

from engine.training.schema.declared import (
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    SECTIONS,
    TASKS,
    TOP_SETTINGS,
)
from engine.training.schema.spec import Section, Setting
from engine.training.schema.validate import (
    Finding,
    add_training_findings,
    findings,
    first_type_error,
    problems,
)


def lookup(section: str, key: str) -> Setting:
    """The declaration of `training.<section>.<key>` (section "" for a top-level key)."""
    found = TOP_SETTINGS.get(key) if not section else (
        SECTIONS[section].setting(key) if section in SECTIONS else None)
    if found is None:
        where = ".".join(p for p in ("training", section, key) if p)
        raise KeyError(f"{where} is not declared in engine/training/schema")
    return found


def default(section: str, key: str, task: str | None = None, name: str | None = None) -> Any:
    """The declared default of a setting, for `task` and the section's `name` when given."""
    return lookup(section, key).default_for(task, name)


__all__ = [
    "LOSSES", "OPTIMIZERS", "SCHEDULES", "SECTIONS", "TASKS", "TOP_SETTINGS", "Finding",
    "Section", "Setting", "add_training_findings", "default", "findings", "first_type_error",
    "lookup", "problems",
]
