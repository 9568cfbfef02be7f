"""A run on several local processes, for the controller: events come from a child over a pipe.

The controller's worker thread iterates `ProcessRun.run()` exactly like a
trainer's, so plots, progress and the trained copy work unchanged; reading the
pipe happens on that thread, never the GUI's (engine/training/event_stream.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.document import Document
from engine.errors import NetCanvasError

if TYPE_CHECKING:
    from engine.training import RunOptions
    from engine.training.event_stream import ProcessRun


def processes(doc: Document) -> int:
    """`training.processes`, 1 when absent."""
    value = doc.training.get("processes", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def process_run(doc: Document, options: RunOptions) -> ProcessRun:
    """The child-process run, refusing a task that does not distribute (a clear reason)."""
    from engine.training.distributed import check_task
    from engine.training.event_stream import ProcessRun

    check_task(doc.training.get("task", "classification"))
    if options.resume:
        raise NetCanvasError("resuming on several processes: set Processes to 1 to resume")
    return ProcessRun(doc, processes(doc), options)
