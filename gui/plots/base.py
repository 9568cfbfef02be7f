"""What every plot panel shares: events only append to buffers, a timer redraws.

Redrawing per event would tie the GUI's cost to the trainer's step rate (a
small MLP makes thousands of steps a second); redrawing at most ~30 times a
second, and only while the panel is visible and has news, ties it to the screen.

A frame's cost is measured (the redraw and the paint it caused) and the next
frame waits long enough that plotting uses at most PLOT_SHARE of the GUI
thread: the training host runs at a lower priority than the window, so on a
small machine every frame takes a core from one of its torch threads (and the
other waits for it), and plot time is taken straight out of training. A fast
machine keeps 30 Hz; a slow or busy one draws less often instead of
stuttering and slowing the run.
"""

from __future__ import annotations

import os
import time

import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QWidget

FRAME_MS = 33  # ~30 Hz at most
SLOWEST_FRAME_MS = 500  # however costly, news shows within half a second
# Of the GUI thread's time. Where the window shares two cores (or one) with both of the
# training host's torch threads, each frame stalls training (docs/responsiveness.md): there
# plots draw half as often, ~7 times a second instead of ~15.
PLOT_SHARE = 0.06 if (os.cpu_count() or 2) > 2 else 0.03


class PlotPanel(QWidget):
    """Subclasses implement `handle(event)` (append, then `mark_dirty()`) and `redraw()`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = ""
        self._dirty = False
        self._timer = QTimer(self, interval=FRAME_MS, singleShot=True)
        self._timer.timeout.connect(self.refresh)

    def reset(self, task: str = "") -> None:
        """Forget the current run's data; `task` picks what the panel shows."""
        self.task = task
        self.mark_dirty()

    @Slot(object)
    def handle(self, event: object) -> None:
        raise NotImplementedError

    def redraw(self) -> None:
        raise NotImplementedError

    def mark_dirty(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def refresh(self) -> None:
        """Redraw now if there is news and someone can see it (hidden panels catch up on show)."""
        if self._dirty and self.isVisible():
            began = time.perf_counter()
            self._dirty = False
            self.redraw()
            views = self.findChildren(pg.GraphicsView)
            for view in views:
                # Auto-range now, not in the coming paint: a range changed during a paint asks
                # for a second paint, which would double the cost of every frame.
                view.scene().prepareForPaint()
            cost = time.perf_counter() - began + sum(getattr(v, "last_paint_s", 0.0) for v in views)
            self._timer.setInterval(int(min(max(1000 * cost / PLOT_SHARE, FRAME_MS), SLOWEST_FRAME_MS)))

    def flush(self) -> None:
        """Redraw now even if hidden (rendering to a file, tests)."""
        if self._dirty:
            self._dirty = False
            self.redraw()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._dirty:
            self._timer.start()
