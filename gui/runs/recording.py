"""The GUI's runs go through the same recorder as the CLI's, inside the training thread.

`record_in_store` wraps the trainer's event stream; the TrainingController's
worker iterates the wrapped stream, so creating the run folder, buffering
rows and writing the bundle all happen off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.document import Document
from engine.runs.recorder import RunRecorder
from engine.runs.store import default_runs_dir
from gui import settings


def gui_runs_dir(doc: Document | None) -> Path:
    """`runs/` beside a saved document; for a preset or an unsaved one, the app's data folder.

    The CLI uses ./runs there; the GUI's working folder is wherever the desktop
    started it, so its own runs go to one predictable place instead.
    """
    from gui.files import is_preset

    path = doc.path if doc is not None else None
    if path and not is_preset(path):
        return default_runs_dir(path)
    return settings.data_dir() / "runs"


def record_in_store(trainer: Any, events: Iterator[Any]) -> Iterator[Any]:
    """The events of `trainer`, recorded as a run (a generator: it starts in the worker thread)."""
    recorder = RunRecorder(gui_runs_dir(trainer.doc), trainer.doc, trainer.options, source="gui")
    with recorder:
        yield from recorder.watch(events)
