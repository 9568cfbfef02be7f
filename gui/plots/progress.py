"""The one-line state of a run: a bar, epoch and step, samples per second, time left.

The ETA comes from the rate at which `progress` (0..1 of the whole run) has
advanced since the first step, not since Run was pressed, so dataset loading
and model building do not make the first estimates too pessimistic. The text
is refreshed a few times a second, never per event.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from engine.training import Episode, Epoch, Failed, Finished, Started, Step
from gui.plots.buffers import Ema

STEPS = 1000  # resolution of the bar
TEXT_MS = 250


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{max(seconds, 0):.1f} s"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressWidget(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, STEPS)
        self.bar.setTextVisible(True)
        self.bar.setFixedWidth(180)
        self.label = QLabel("Ready")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.bar)
        row.addWidget(self.label, 1)
        self._timer = QTimer(self, interval=TEXT_MS)
        self._timer.timeout.connect(self.update_text)
        self.reset()

    def reset(self) -> None:
        self.total_epochs = 0
        self.epoch = self.step = self.episode = 0
        self.progress = 0.0
        self.rate = Ema(0.9)
        self.samples_per_s = 0.0
        self.first: tuple[float, float] | None = None  # (time, progress) at the first step
        self.now: tuple[float, float] | None = None
        self.final = ""
        self.bar.setValue(0)

    @Slot(object)
    def handle(self, event: object) -> None:
        if isinstance(event, Started):
            self.reset()
            self.total_epochs = event.total_epochs
            self.final = f"Training on {event.device}…"
            self._timer.start()
        elif isinstance(event, Step | Epoch | Episode):
            self._advance(event)
        elif isinstance(event, Finished):
            state = "Stopped" if event.stopped else "Finished"
            if not event.stopped:
                self.progress = 1.0
            self.final = f"{state} after {format_duration(event.seconds)}"
            self._end()
        elif isinstance(event, Failed):
            self.final = "Failed: " + event.message.split("\n")[0]
            self._end()

    def _advance(self, event: Step | Epoch | Episode) -> None:
        now = time.monotonic()
        self.progress = event.progress
        if isinstance(event, Step):
            self.step, self.epoch = event.step, event.epoch
            self.samples_per_s = self.rate.update(event.samples_per_s)
        elif isinstance(event, Epoch):
            self.epoch = event.epoch
        else:
            self.episode = event.episode
        if self.first is None:
            self.first = (now, event.progress)
        self.now = (now, event.progress)
        self.final = ""

    def _end(self) -> None:
        self._timer.stop()
        self.update_text()

    def eta(self) -> float | None:
        """Seconds left at the rate progress has moved since the first step, or None."""
        if self.first is None or self.now is None:
            return None
        elapsed, done = self.now[0] - self.first[0], self.now[1] - self.first[1]
        if elapsed < 1.0 or done <= 0:
            return None
        return (1.0 - self.now[1]) * elapsed / done

    @Slot()
    def update_text(self) -> None:
        self.bar.setValue(int(round(self.progress * STEPS)))
        if self.final:
            self.label.setText(self.final)
            return
        parts = []
        if self.episode:
            parts.append(f"episode {self.episode:,}" + (f"/{self.total_epochs:,}" if self.total_epochs else ""))
        elif self.epoch:
            parts.append(f"epoch {self.epoch}" + (f"/{self.total_epochs}" if self.total_epochs else ""))
        if self.step:
            parts.append(f"step {self.step:,}")
        if self.samples_per_s:
            parts.append(f"{self.samples_per_s:,.0f} samples/s")
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        self.label.setText(" · ".join(parts))
