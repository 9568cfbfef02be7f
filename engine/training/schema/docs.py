"""docs/training_settings.md, written from the declaration so it cannot go stale.

Regenerate with `python -m engine.training.schema.docs` (a test compares the
committed file with what this writes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from engine.training.schema.declared import SECTIONS, TASKS, TOP
from engine.training.schema.spec import Section, Setting

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "training_settings.md"

INTRO = """\
# Training settings

The `training` section of a document, every key with its type, default, range
and the tasks that read it. This page is written by
`python -m engine.training.schema.docs` from the declaration in
`engine/training/schema/declared.py`, the one place the defaults live: the
trainers, the loader, `netcanvas check` and the Training tab read the same
declaration.

How a document is checked against it (the policy block parameters follow):

- a value of the wrong JSON type (`"lr": "fast"`) is a **load error** naming its
  path: `training.optimizer.lr: expected a number > 0, got "fast"`;
- a value out of range or an unknown name (task, loss, optimizer, schedule,
  dataset, device) **loads**, so it can be fixed in the editor, and is a
  **check error**: training refuses to start until it is fixed;
- a key the declaration does not know is **kept** (and written back on save)
  and reported as a **warning**, with a "did you mean" when one is close;
- a device this machine lacks (`cuda` on a laptop) is a warning: the file may
  be meant for another machine, and `--device` overrides it.

A default shown as *computed* is worked out at run time as the note says.
"""


def _default(setting: Setting) -> str:
    if setting.default is None:
        text = f"*computed*: {setting.computed}" if setting.computed else "—"
    else:
        text = f"`{json.dumps(_jsonable(setting.default))}`"
    extra = [f"{json.dumps(v)} for {k}" for k, v in {**setting.by_task, **setting.by_name}.items()
             if v is not None]
    if setting.default is not None and setting.computed:
        extra.append(setting.computed)
    return text + (f" ({'; '.join(extra)})" if extra else "")


def _cell(text: str) -> str:
    """Text that stays in its Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _applies(setting: Setting, section: Section | None = None) -> str:
    tasks = setting.tasks or (section.tasks if section else ())
    text = ", ".join(tasks) if tasks else "all"
    if setting.names:
        text += f" (with {', '.join(setting.names)})"
    return text


def _table(settings: tuple[Setting, ...], section: Section | None = None) -> list[str]:
    rows = ["| key | value | default | read by | what it does |", "|---|---|---|---|---|"]
    for s in settings:
        cells = (f"`{s.key}`", s.expected(), _default(s), _applies(s, section), s.doc)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _datasets() -> list[str]:
    """The datasets engine/data registers (not those a test or a plug-in adds at run time)."""
    from engine.data import REGISTRY

    rows = ["| name | kind | options | what it is |", "|---|---|---|---|"]
    for name, entry in sorted(REGISTRY.items(), key=lambda item: item[0].lower()):
        if entry.load.__module__.startswith("engine.data."):
            options = ", ".join(f"`{o}`" for o in entry.options) or "—"
            rows.append(f"| `{name}` | {entry.kind} | {options} | {_cell(entry.doc)} |")
    return ["", "## Datasets", "", "`training.dataset` names one of these (options go beside "
            "`name`); any other gymnasium environment id works for dqn and q_learning.", "",
            *rows]


def markdown() -> str:
    """The whole page, from the declaration."""
    lines = [INTRO, "## Tasks", "", "| task | what it trains |", "|---|---|"]
    lines += [f"| `{task}` | {doc} |" for task, doc in TASKS.items()]
    lines += ["", "## Top-level keys", "", *_table(TOP)]
    for section in SECTIONS.values():
        lines += ["", f"## `{section.name}`", "", f"{section.doc[0].upper()}{section.doc[1:]}."]
        if section.tasks:
            lines.append(f"Read by: {', '.join(section.tasks)}.")
        lines += ["", *_table(section.settings, section)]
    lines += _datasets()
    return "\n".join(lines) + "\n"


def write(path: Path = DOC_PATH) -> None:
    path.write_text(markdown(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOC_PATH)
