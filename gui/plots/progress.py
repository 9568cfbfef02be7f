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
STOPS_WHEN_SOLVED = ("dqn",)  # tasks whose run ends early once the environment is solved


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
        """Ready for a run: nothing of the last run's line stays (another document opened)."""
        self.total_epochs = 0
        self.task = ""
        self.start_fraction = 0.0  # of the whole run already done before this one (resume)
        self.paused = False
        self.epoch = self.step = self.episode = 0
        self.progress = 0.0
        self.rate = Ema(0.9)
        self.samples_per_s = 0.0
        self.first: tuple[float, float] | None = None  # (time, progress) at the first step
        self.now: tuple[float, float] | None = None
        self.final = ""
        self.bar.setValue(0)
        self.label.setText("Ready")

    @Slot(object)
    def handle(self, event: object) -> None:
        if isinstance(event, Started):
            self.reset()
            self.total_epochs, self.task = event.total_epochs, event.task
            if event.total_epochs:
                self.start_fraction = min(event.start_epoch / event.total_epochs, 1.0)
            self.final = f"Training on {event.device}…"
            self._timer.start()
        elif isinstance(event, Step | Epoch | Episode):
            self._advance(event)
        elif isinstance(event, Finished):
            state = "Stopped" if event.stopped else "Finished"
            if not event.stopped:
                self.progress = 1.0
                self.start_fraction = 0.0
            self.final = f"{state} after {format_duration(event.seconds)}"
            self._end()
        elif isinstance(event, Failed):
            self.final = "Failed: " + event.message.split("\n")[0]
            self._end()

    def handle_steps(self, steps: list[Step]) -> None:
        """Consecutive Step events at once: the state `handle` leaves after each of them."""
        for step in steps:
            self._advance(step)

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
        self.paused = False
        self._timer.stop()
        self.update_text()

    def set_paused(self, paused: bool) -> None:
        """Paused: say so, without a rate or a time left. On resuming, the ETA is measured
        afresh, so the paused time does not slow the estimate."""
        if paused == self.paused:
            return
        self.paused = paused
        if not paused:
            self.first = None
            self.rate = Ema(0.9)
            self.samples_per_s = 0.0
        self.update_text()

    def fraction(self) -> float:
        """How much of the whole run is done: a resumed run's progress counts from where
        it started (events report progress over what is left to do)."""
        return self.start_fraction + self.progress * (1.0 - self.start_fraction)

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
        self.bar.setValue(int(round(self.fraction() * STEPS)))
        if self.final:
            self.label.setText(self.final)
            return
        parts = ["paused"] if self.paused else []
        if self.episode:
            parts.append(f"episode {self.episode:,}" + (f"/{self.total_epochs:,}" if self.total_epochs else ""))
        elif self.epoch:
            parts.append(f"epoch {self.epoch}" + (f"/{self.total_epochs}" if self.total_epochs else ""))
        if self.step:
            parts.append(f"step {self.step:,}")
        eta = None if self.paused else self.eta()
        if self.samples_per_s and not self.paused:
            parts.append(f"{self.samples_per_s:,.0f} samples/s")
        if eta is not None and self.task in STOPS_WHEN_SOLVED:
            parts.append(f"at most {format_duration(eta)} (stops when solved)")
        elif eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        self.label.setText(" · ".join(parts))
