"""Loss, metric and learning-rate curves of a run, with faded copies of earlier runs.

`CurvePanel.handle(event)` takes Step and Epoch events (Started sets the
smoothing, Finished/Failed fit the plots to the whole run; others are ignored):
- per step: the raw loss (faint) and its bias-corrected EMA over about a quarter
  epoch (bright); when a Step carries `losses` (a GAN's generator and
  discriminator) one pair per key;
- per epoch: train (dashed) and validation (solid) loss, and every other metric
  the trainer reports (accuracy, mse, ...) on its own plot;
- the learning rate, stored only where it changes, so it costs nothing per step.
`reset(task, document_key)` starts a new run; when the key is the previous
run's, that run's curves stay on the plots, faded (the last `KEEP_RUNS` runs).
`load_history(metrics["history"])` draws the epoch curves a bundle carries.
The hover readout names the values under the mouse on every plot.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.training import Epoch, Failed, Finished, Started, Step
from gui.plots import style
from gui.plots.base import PlotPanel
from gui.plots.buffers import DEFAULT_CAP, Ema, Series, nearest_index

KEEP_RUNS = 3
LEFT_AXIS_WIDTH = 64
SMOOTH_POINTS = 8192  # a smoothed curve has no detail finer than this; wide pens cost per point
LR_REFRESH_S = 1.0
EPOCH_REFRESH_S = 0.25
GHOST_POINTS = 4000
BULK_STEPS = 32  # a run of Steps at least this long is added as arrays
MARKED_EPOCHS = 60  # epoch curves longer than this are drawn without a dot per epoch
KEY_COLORS = {"loss": "blue", "generator": "orange", "discriminator": "purple",
              "accuracy": "green", "mse": "teal", "mae": "yellow"}
# Keys of an epoch's train/val dicts that are losses (a GAN reports one per network).
LOSS_KEYS = ("loss", "generator", "discriminator")


def smoothing_for(steps_per_epoch: int) -> float:
    """EMA weight averaging over about a quarter of an epoch: a fixed weight either lags
    far behind a short run or leaves a long run's minibatch noise in the curve."""
    return min(max(1.0 - 4.0 / max(steps_per_epoch, 1), 0.6), 0.97)


def key_color(key: str, index: int = 0) -> str:
    return KEY_COLORS.get(key, style.SERIES[(index + 3) % len(style.SERIES)])


POINTS_CAP = 20_000  # epoch and learning-rate points kept per curve (a graph run has an epoch a step)


def append_bounded(points: list, point: tuple[float, float], cap: int = POINTS_CAP) -> None:
    """Append, and past `cap` points keep every other one of the older half: a run of a
    million epochs keeps its whole shape in bounded memory, the recent points exact."""
    points.append(point)
    if len(points) > cap:
        half = len(points) // 2
        points[:half] = points[:half:2]


@dataclass
class _Track:
    """One per-step loss: its raw and smoothed history and the two items drawing them."""

    raw: Series
    smooth: Series
    ema: Ema
    raw_item: pg.PlotDataItem
    smooth_item: pg.PlotDataItem


@dataclass
class _Run:
    """A previous run on the plots: its thinned smoothed losses and epoch curves, faded."""

    items: list[tuple[pg.PlotItem, pg.PlotDataItem, str, str]] = field(default_factory=list)

    def restyle(self, age: int) -> None:
        """Older runs fade further; only the newest is named in the legend. One-pixel pens:
        Qt strokes wider ones as filled outlines, twice the cost of a frame for a faded copy."""
        alpha = max(25, style.GHOST_ALPHA // (age + 1))
        for _, item, key, split in self.items:
            item.setPen(style.pen(key_color(key), 1.0, alpha, dashed=split == "train"))

    def remove(self) -> None:
        for plot, item, _, _ in self.items:
            plot.removeItem(item)


class CurvePanel(PlotPanel):
    def __init__(self, parent: QWidget | None = None, cap: int = DEFAULT_CAP,
                 smoothing: float = 0.9) -> None:
        super().__init__(parent)
        self.cap, self.smoothing = cap, smoothing
        self._key: str | None = None
        self._ghosts: deque[_Run] = deque()
        self._build()
        self._clear_data()
        self._show_legends()

    # ---- layout -------------------------------------------------------------------

    def _build(self) -> None:
        self.log_box = QCheckBox("Log scale")
        self.log_box.toggled.connect(self.set_log)
        self.readout = QLabel(" ")
        self.readout.setStyleSheet(f"color: {style.PANEL_TEXT};")
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(self.log_box)
        bar.addSpacing(12)
        bar.addWidget(self.readout, 1)
        self.view = style.graphics_layout()
        lay = self.view.ci
        log_axis_plot = style.plot_with_log_axis
        self.loss_plot = style.fast_plot(style.style_plot(
            log_axis_plot(lay, row=0, col=0, colspan=3), "Loss per step (faint: each step, bright: smoothed)",
            "step", "loss"))
        self.epoch_plot = style.style_plot(log_axis_plot(lay, row=1, col=0), "Loss per epoch", "epoch", "loss")
        self.metric_plot = style.style_plot(lay.addPlot(row=1, col=1), "Metrics per epoch", "epoch")
        self.lr_plot = style.fast_plot(style.style_plot(
            log_axis_plot(lay, row=1, col=2), "Learning rate per step", "step", "lr"))
        for plot in self.plots:  # one width, so the step plots line up and labels never collide
            plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        for row, stretch in enumerate((3, 2)):  # two rows: readable in a 300-pixel dock
            lay.layout.setRowStretchFactor(row, stretch)
        self.legends = {p: style.legend(p) for p in (self.loss_plot, self.epoch_plot, self.metric_plot)}
        self.lines = {}
        for plot in self.plots:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(style.AXIS, width=1))
            line.setZValue(50)
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self.lines[plot] = line
        self.lr_item = self.lr_plot.plot(pen=style.pen("yellow", 1.4))
        self.envelope = style.RangeEnvelope(self.loss_plot)
        # The epoch plots too: a tiny model's hundreds of epochs otherwise re-tick both of
        # their axes (the costliest part of a paint) at every epoch redraw.
        self.epoch_envelopes = {plot: style.RangeEnvelope(plot)
                                for plot in (self.epoch_plot, self.metric_plot)}
        self._hover = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(bar)
        box.addWidget(self.view, 1)

    @property
    def document_key(self) -> str | None:
        """The document whose runs are on the plots (previous ones faded)."""
        return self._key

    @property
    def plots(self) -> tuple[pg.PlotItem, ...]:
        return (self.loss_plot, self.epoch_plot, self.metric_plot, self.lr_plot)

    # ---- runs -----------------------------------------------------------------------

    def reset(self, task: str = "", document_key: str | None = None) -> None:
        """A new run; the previous one is kept, faded, when it trained the same document."""
        same = document_key is not None and document_key == self._key
        kept: set[pg.PlotDataItem] = set()
        if same and self._has_data():
            kept = self._keep_as_ghost()
        elif not same:
            while self._ghosts:
                self._ghosts.pop().remove()
        self._key = document_key
        self._remove_run_items(kept)
        self._clear_data()
        self._stale = {"steps", "epochs", "lr"}
        super().reset(task)

    def _has_data(self) -> bool:
        return any(len(t.smooth) for t in self.tracks.values()) or bool(self.epochs)

    def _keep_as_ghost(self) -> set[pg.PlotDataItem]:
        """Keep this run's smoothed and epoch curves on the plots, faded and thinned; returns them.

        The run's own items are restyled rather than re-plotted, and only the oldest kept
        run's are removed: creating and removing plot items (each re-fits its view and
        re-lays out a legend) made pressing Run a visible stall."""
        run = _Run()
        for key, track in self.tracks.items():
            track.smooth_item.setData(*track.smooth.thinned(GHOST_POINTS))
            run.items.append((self.loss_plot, track.smooth_item, key, "step"))
        for (split, key), item in self.epoch_items.items():
            item.setSymbol(None)
            run.items.append((self._epoch_plot_for(key), item, key, split))
        for plot, item, _, _ in run.items:
            self.legends[plot].removeItem(item)
            item.setZValue(0)  # under the new run's curves
        self._ghosts.appendleft(run)
        while len(self._ghosts) > KEEP_RUNS:
            self._ghosts.pop().remove()
        legend = self.legends[self.loss_plot]
        for age, kept in enumerate(self._ghosts):
            kept.restyle(age)
            if kept.items:
                legend.removeItem(kept.items[0][1])
        if run.items and run.items[0][0] is self.loss_plot:
            legend.addItem(run.items[0][1], "previous runs")
        return {item for _, item, _, _ in run.items}

    def _remove_run_items(self, kept: set[pg.PlotDataItem]) -> None:
        """Take the current run's curves off the plots, except those `kept` as a previous run."""
        for track in self.tracks.values():
            for item in (track.raw_item, track.smooth_item):
                if item not in kept:
                    self.legends[self.loss_plot].removeItem(item)
                    self.loss_plot.removeItem(item)
        for (_, key), item in self.epoch_items.items():
            if item not in kept:
                plot = self._epoch_plot_for(key)
                self.legends[plot].removeItem(item)
                plot.removeItem(item)
        self.lr_item.setData([], [])
        self.envelope.clear()
        for envelope in self.epoch_envelopes.values():
            envelope.clear()
        self._show_legends()

    def _clear_data(self) -> None:
        self.tracks: dict[str, _Track] = {}
        self.epochs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.epoch_items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.lr_points: list[tuple[float, float]] = []
        self.last_step = 0.0
        self.ended = False
        self._lr_drawn = self._epochs_drawn = 0.0
        self._lr_changed = False
        self._stale: set[str] = set()

    # ---- events ---------------------------------------------------------------------

    @Slot(object)
    def handle(self, event: object) -> None:
        if isinstance(event, Step):
            self.add_step(event)
        elif isinstance(event, Epoch):
            self.add_epoch(event.epoch, event.train, event.val)
        elif isinstance(event, Started) and event.steps_per_epoch and not self.tracks:
            self.smoothing = smoothing_for(event.steps_per_epoch)
        elif isinstance(event, Finished | Failed):
            self.ended = True  # the run is whole: fit the plots to it
            self.mark_stale("steps", "epochs", "lr")

    def add_step(self, event: Step) -> None:
        step = float(event.step)
        for key, value in (event.losses or {"loss": event.loss}).items():
            track = self.tracks.get(key) or self._new_track(key)
            track.raw.append(step, value)
            track.smooth.append(step, track.ema.update(value))
        self._add_lr(step, event.lr)
        self.mark_stale("steps")

    def add_steps(self, events: list[Step]) -> None:
        """Consecutive Step events at once, as one `add_step` each (to float rounding): a long
        run's losses go to the buffers as arrays, so a flood of tiny steps costs per call."""
        if len(events) < BULK_STEPS or any(event.losses for event in events):
            for event in events:  # few (the filter's call costs more), or a GAN's pairs
                self.add_step(event)
            return
        steps = np.fromiter((event.step for event in events), np.float64, len(events))
        losses = np.fromiter((event.loss for event in events), np.float64, len(events))
        track = self.tracks.get("loss") or self._new_track("loss")
        track.raw.extend(steps, losses)
        track.smooth.extend(steps, track.ema.update_many(losses))
        for event in events:
            self._add_lr(float(event.step), event.lr)
        self.mark_stale("steps")

    def extend_steps(self, steps: np.ndarray, losses: np.ndarray, lrs: np.ndarray | None = None,
                     key: str = "loss") -> None:
        """Many steps at once (a long history, tests): as if each had come as a Step."""
        track = self.tracks.get(key) or self._new_track(key)
        track.raw.extend(steps, losses)
        track.smooth.extend(steps, track.ema.update_many(losses))
        if lrs is not None and len(steps):
            changes = np.flatnonzero(np.diff(lrs, prepend=np.nan))
            for i in changes:
                self._add_lr(float(steps[i]), float(lrs[i]))
            self.last_step = float(steps[-1])
        self.mark_stale("steps", "lr")

    def add_epoch(self, epoch: int, train: dict[str, float], val: dict[str, float]) -> None:
        for split, values in (("train", train), ("val", val)):
            for key, value in values.items():
                series = (split, key)
                if series not in self.epochs:
                    self.epochs[series] = []
                    self._new_epoch_item(series)
                append_bounded(self.epochs[series], (float(epoch), float(value)))
        self.mark_stale("epochs")

    def load_history(self, history: dict) -> None:
        """The epoch curves of a finished run, as a bundle's metrics["history"] holds them."""
        train, val = history.get("epoch_train", []), history.get("epoch_val", [])
        for i in range(max(len(train), len(val))):
            self.add_epoch(i + 1, train[i] if i < len(train) else {}, val[i] if i < len(val) else {})

    def _new_track(self, key: str) -> _Track:
        color = key_color(key, len(self.tracks))
        raw_item = self.loss_plot.plot(pen=style.pen(color, 1.0, style.FAINT_ALPHA))
        smooth_item = self.loss_plot.plot(pen=style.pen(color, 2.0), name=key)
        raw_item.setZValue(1)
        smooth_item.setZValue(2)
        for item in (raw_item, smooth_item):
            style.few_points_per_pixel(item)
        track = _Track(Series(self.cap), Series(min(self.cap, SMOOTH_POINTS)), Ema(self.smoothing),
                       raw_item, smooth_item)
        self._show_legends()
        self.tracks[key] = track
        return track

    def _epoch_plot_for(self, key: str):
        """Losses (one per GAN network too) on "Loss per epoch", the rest on the metrics."""
        return self.epoch_plot if key in LOSS_KEYS else self.metric_plot

    def _new_epoch_item(self, series: tuple[str, str]) -> None:
        split, key = series
        plot = self._epoch_plot_for(key)
        name = f"{split} {key}" if key != "loss" else split
        item = plot.plot(pen=style.pen(key_color(key), 2.0, dashed=split == "train"), name=name,
                         symbol="o", symbolSize=5, symbolPen=None,
                         symbolBrush=style.color(key_color(key)))
        item.setZValue(2)
        self.epoch_items[series] = item
        self._show_legends()

    def _add_lr(self, step: float, lr: float) -> None:
        if not self.lr_points or self.lr_points[-1][1] != lr:
            self._stale.add("lr")
            self._lr_changed = True
            if self.lr_points:  # keep the old rate up to the step before the change
                append_bounded(self.lr_points, (self.last_step, self.lr_points[-1][1]))
            append_bounded(self.lr_points, (step, lr))
        self.last_step = step

    # ---- drawing ----------------------------------------------------------------------

    def redraw(self) -> None:
        """Touch only what changed: an untouched plot is not repainted, nor are its axes."""
        stale, self._stale = self._stale, set()
        if "steps" in stale:
            for track in self.tracks.values():
                track.raw_item.setData(*track.raw.tail())
                track.smooth_item.setData(*track.smooth.tail())
            self._fit_envelope()
            stale.add("lr")  # stretch the constant rate to the newest step, now or soon
        if "lr" in stale:
            self._redraw_lr()
        if "epochs" in stale:
            self._redraw_epochs()

    def _redraw_lr(self) -> None:
        """The rate changes rarely: redraw when it changed, else stretch it at most once a second."""
        if not self.lr_points:
            return
        if not self._lr_changed and time.monotonic() - self._lr_drawn < LR_REFRESH_S:
            self.mark_stale("lr")  # later: a repaint per frame of a plot that barely moves
            return
        self._lr_changed, self._lr_drawn = False, time.monotonic()
        points = self.lr_points + [(self.last_step, self.lr_points[-1][1])]
        x, y = zip(*points, strict=True)
        self.lr_item.setData(x, y)
        if not self.log_box.isChecked():  # from 0, so a constant rate does not read as zero
            self.lr_plot.setYRange(0, max(y) * 1.15 or 1e-3, padding=0)

    def _fit_envelope(self) -> None:
        kept = [t.raw for t in self.tracks.values() if len(t.raw)]
        if not kept or self.log_box.isChecked():
            return
        self.envelope.fit(min(float(r.x[0]) for r in kept), max(r.last[0] for r in kept),
                          min(min(float(r.y.min()), r.last[1]) for r in kept),
                          max(max(float(r.y.max()), r.last[1]) for r in kept), tight=self.ended)

    def _fit_epoch_envelopes(self) -> None:
        for plot, envelope in self.epoch_envelopes.items():
            points = [xy for (_, key), series in self.epochs.items()
                      if self._epoch_plot_for(key) is plot for xy in series]
            if not points or (plot is self.epoch_plot and self.log_box.isChecked()):
                continue
            xs, ys = zip(*points, strict=True)
            finite = [y for y in ys if math.isfinite(y)]
            if finite:
                envelope.fit(min(xs), max(xs), min(finite), max(finite), tight=self.ended)

    def flush(self) -> None:
        self._epochs_drawn = self._lr_drawn = 0.0  # now means now
        super().flush()

    def _redraw_epochs(self) -> None:
        if time.monotonic() - self._epochs_drawn < EPOCH_REFRESH_S:
            self.mark_stale("epochs")  # epochs racing by (a tiny model) need not cost two plots a frame
            return
        self._epochs_drawn = time.monotonic()
        for series, points in self.epochs.items():
            x, y = zip(*points, strict=True)
            item = self.epoch_items[series]
            if len(points) > MARKED_EPOCHS and item.opts["symbol"] is not None:
                item.setSymbol(None)  # dots touch each other by then, and cost a scatter per redraw
            item.setData(x, y)
        self._fit_epoch_envelopes()
        self._show_legends()
        keys = {key for _, key in self.epochs if key not in LOSS_KEYS}
        title = "Metrics per epoch" if not keys else ", ".join(sorted(keys)) + " per epoch"
        if title != self.metric_plot.titleLabel.text:  # a new title re-lays out and repaints all four plots
            self.metric_plot.setTitle(title, color=style.PANEL_TEXT, size="10pt")

    def _show_legends(self) -> None:
        for legend in self.legends.values():  # an empty legend would be a stray box
            legend.setVisible(bool(legend.items))

    def mark_stale(self, *groups: str) -> None:
        self._stale.update(groups)
        self.mark_dirty()

    @Slot(bool)
    def set_log(self, on: bool) -> None:
        """Log y on the loss and learning-rate plots (metrics such as accuracy stay linear)."""
        for plot in (self.loss_plot, self.epoch_plot, self.lr_plot):
            plot.setLogMode(y=on)
        for envelope in (self.envelope, self.epoch_envelopes[self.epoch_plot]):
            envelope.item.setVisible(not on)  # its rounding is linear; log axes re-tick little anyway
        self.lr_plot.enableAutoRange(y=True)
        self.mark_stale("steps", "epochs", "lr")
        if self.log_box.isChecked() != on:
            self.log_box.setChecked(on)

    # ---- hover ------------------------------------------------------------------------

    def _on_mouse(self, args: tuple) -> None:
        pos = args[0]
        for plot in self.plots:
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.readout.setText(self.describe_at(plot, x))
                for other, line in self.lines.items():
                    line.setVisible(other is plot or {other, plot} <= {self.loss_plot, self.lr_plot})
                    line.setValue(x)
                return

    def describe_at(self, plot: pg.PlotItem, x: float) -> str:
        """The values nearest to x on `plot`, as one line of text."""
        if plot in (self.loss_plot, self.lr_plot):
            parts = []
            for key, track in self.tracks.items():
                i = nearest_index(track.raw.x, x)
                if i is not None:
                    step = track.raw.x[i]
                    j = nearest_index(track.smooth.x, step)
                    parts.append(f"{key} {track.raw.y[i]:.4g} (smoothed {track.smooth.y[j]:.4g})")
            lr = self._lr_at(x)
            if lr is not None:
                parts.append(f"lr {lr:.3g}")
            return f"step {max(0, round(x))}: " + ", ".join(parts) if parts else " "
        epoch = round(x)
        parts = [f"{split} {key} {value:.4g}" for (split, key), points in self.epochs.items()
                 for e, value in points if e == epoch and (key == "loss") == (plot is self.epoch_plot)]
        return f"epoch {epoch}: " + ", ".join(parts) if parts else " "

    def _lr_at(self, x: float) -> float | None:
        if not self.lr_points:
            return None
        steps = [p[0] for p in self.lr_points]
        i = max(0, int(np.searchsorted(steps, x, side="right")) - 1)
        return self.lr_points[i][1]

