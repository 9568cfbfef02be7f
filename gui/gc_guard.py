"""Garbage collection only on the GUI thread, and no full collection during a run.

Python's cyclic collector runs in whichever thread happens to allocate when a
threshold is crossed. If that is the training worker, it may finalise Qt
objects there, and Qt aborts the process (seen while a run imported
torch._dynamo). So, as pyqtgraph's GarbageCollector does, automatic collection
is off and a GUI-thread timer collects instead; every place that starts a
thread calls `guard_garbage_collection()` first.

With torch loaded a full (generation 2) collection walks every object in the
process and took 77 ms on the GUI thread: the longest stall of a training run
(benchmarks/gui_responsiveness.py), and even a young collection took 140 ms
after a run's start had allocated 220,000 objects (the model, the dataset, the
trainer). While a run holds the collector (`hold()` … `release()`), a young
generation past FREEZE_OVER objects is moved, unscanned, to the permanent
generation (`gc.freeze()`, constant time) rather than collected, smaller ones
are collected as usual (a millisecond or less), and the full collection that
came due waits for the run to end, when `release()` thaws what was frozen so it
is collected then. Cycles that die young are still freed during a run; only
those in a frozen burst or older than two young collections wait.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QTimer

FREEZE_OVER = 20_000  # young objects: collecting more than this takes over ~10 ms


class GuiCollector:
    """pyqtgraph's GarbageCollector, with full collections deferred while `holds` > 0."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.threshold = gc.get_threshold()
        self.holds = 0
        self.full_collections = 0  # counted for tests: none may happen while held
        self.frozen = False
        gc.disable()
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval_s * 1000))

    def hold(self) -> None:
        """A run started: defer full collections until every hold is released."""
        self.holds += 1

    def release(self) -> None:
        """A run ended: what it froze is collectable again (by the next full collection)."""
        self.holds = max(0, self.holds - 1)
        if not self.holds and self.frozen:
            gc.unfreeze()
            self.frozen = False

    def check(self) -> None:
        """Collect the generations whose thresholds were crossed, as CPython would."""
        young, middle, old = gc.get_count()
        if young <= self.threshold[0]:
            return
        if self.holds and young > FREEZE_OVER:
            gc.freeze()
            self.frozen = True
        elif middle <= self.threshold[1]:
            gc.collect(0)
        elif old <= self.threshold[2] or self.holds:
            gc.collect(1)
        else:
            gc.collect(2)
            self.full_collections += 1


_collector: GuiCollector | None = None


def guard_garbage_collection(interval_s: float = 1.0) -> GuiCollector:
    """Install the GUI-thread collector once per process (idempotent)."""
    global _collector
    if _collector is None:
        _collector = GuiCollector(interval_s)
    return _collector
