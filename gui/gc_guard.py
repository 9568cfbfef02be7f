"""Garbage collection only on the GUI thread.

Python's cyclic collector runs in whichever thread happens to allocate when a
threshold is crossed. If that is the training worker, it may finalise Qt
objects there, and Qt aborts the process (seen while a run imported
torch._dynamo). pyqtgraph's GarbageCollector turns automatic collection off
and collects from a GUI-thread timer instead; every place that starts a
thread calls `guard_garbage_collection()` first.
"""

from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector

_collector: GarbageCollector | None = None


def guard_garbage_collection(interval_s: float = 1.0) -> None:
    """Install the GUI-thread collector once per process (idempotent)."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=interval_s)
