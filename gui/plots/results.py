"""A classifier's final report: the confusion matrix and the accuracy of each class.

Fed by `handle(Finished)` (or `show_metrics(doc.metrics)` for an opened bundle)
when the metrics hold "confusion_matrix"; rows are true classes, columns the
predicted ones. Cells are coloured by the share of their row, so a rare class's
mistakes show as clearly as a common one's, and carry the raw counts as text.

The counts are ~110 text items for ten classes, 60 ms of GUI time when made at
once as the run finishes: the image and bars are drawn in one frame and the
texts added TEXTS_PER_TICK at a time on a zero-delay timer, so input and paints
get in between (`flush()` still draws everything at once); they show together once
all are made. A reset (pressing Run) hides them in one call per plot and the next
matrix reuses them: removing them from the scene took 30 ms in one turn.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.training import Finished
from gui.plots import style
from gui.plots.base import PlotPanel

TEXTS_PER_TICK = 8  # count labels made per timer tick: a few milliseconds a turn
MAX_TEXT_CLASSES = 25  # beyond this the counts would not fit in their cells
HINT = "The confusion matrix and per-class accuracy appear here when a classifier finishes."


def summary_line(metrics: dict) -> str:
    """Test and validation scores, as people read them (accuracy in %)."""
    parts = []
    for key in sorted(metrics):
        value = metrics[key]
        if not key.startswith(("test_", "val_")) or not isinstance(value, int | float):
            continue
        split, name = key.split("_", 1)
        shown = f"{100 * value:.1f}%" if "accuracy" in name else f"{value:.4g}"
        parts.append(f"{split} {name.replace('_', ' ')} {shown}")
    return " · ".join(parts)


def class_ticks(names: list[str]) -> list[list[tuple[float, str]]]:
    return [[(i + 0.5, str(name)) for i, name in enumerate(names)]]


class ResultsPanel(PlotPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metrics: dict = {}
        self.summary = QLabel(HINT)
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(f"color: {style.PANEL_TEXT}; padding: 3px 6px;")
        self.view = style.graphics_layout()
        self.matrix_plot = style.style_plot(self.view.ci.addPlot(row=0, col=0),
                                            "Confusion matrix (colour: share of the true class)",
                                            "predicted class", "true class", grid=False)
        self.matrix_plot.setMenuEnabled(False)
        self.matrix_plot.invertY(True)
        self.matrix_plot.setAspectLocked(True)
        self.matrix_image = pg.ImageItem(axisOrder="row-major")
        self.matrix_plot.addItem(self.matrix_image)
        self.accuracy_plot = style.style_plot(self.view.ci.addPlot(row=0, col=1), "Accuracy per class",
                                              "accuracy", "", grid=True)
        self.accuracy_plot.setMenuEnabled(False)
        self.accuracy_plot.invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brush=style.color("green"),
                                    pen=pg.mkPen(None))
        self.accuracy_plot.addItem(self.bars)
        self.view.ci.layout.setColumnStretchFactor(0, 3)
        self.view.ci.layout.setColumnStretchFactor(1, 2)
        self.texts: list[tuple[pg.PlotItem, pg.TextItem]] = []
        self._layers: dict[pg.PlotItem, pg.ItemGroup] = {}
        self._spare: dict[pg.PlotItem, list[pg.TextItem]] = {}  # hidden labels to reuse
        self._pending_texts: list[tuple] = []  # _add_text arguments still to make
        self._text_timer = QTimer(self, singleShot=True, interval=0)
        self._text_timer.timeout.connect(self._add_pending_texts)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.summary)
        box.addWidget(self.view, 1)

    def reset(self, task: str = "") -> None:
        self.metrics = {}
        self._clear_texts()
        self.matrix_image.clear()
        self.bars.setOpts(x0=[], y=[], width=[])
        self.summary.setText(HINT)
        super().reset(task)

    @Slot(object)
    def handle(self, event: object) -> None:
        if isinstance(event, Finished):
            self.show_metrics(event.metrics)

    def show_metrics(self, metrics: dict) -> None:
        self.metrics = dict(metrics)
        self.mark_dirty()

    @property
    def has_matrix(self) -> bool:
        return "confusion_matrix" in self.metrics

    def redraw(self) -> None:
        line = summary_line(self.metrics)
        if not self.has_matrix:
            self.summary.setText(line or HINT)
            return
        matrix = np.asarray(self.metrics["confusion_matrix"], dtype=np.float64)
        count = len(matrix)
        names = list(self.metrics.get("class_names") or range(count))
        self.summary.setText(line or "Confusion matrix of the test split")
        self._clear_texts()
        self._draw_matrix(matrix, names)
        self._draw_accuracy(matrix, names)
        self._add_pending_texts()

    def flush(self) -> None:
        super().flush()
        while self._pending_texts:
            self._add_pending_texts()

    @Slot()
    def _add_pending_texts(self) -> None:
        """Make the next few count labels; the timer brings the rest after other events."""
        chunk, self._pending_texts = self._pending_texts[:TEXTS_PER_TICK], self._pending_texts[TEXTS_PER_TICK:]
        for args in chunk:
            self._add_text(*args)
        if self._pending_texts:
            self._text_timer.start()
        else:
            self._show_texts()

    def _draw_matrix(self, matrix: np.ndarray, names: list) -> None:
        shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        self.matrix_image.setImage(style.colorize(shares, 0.0, 1.0), autoLevels=False)
        ticks = class_ticks(names)
        self.matrix_plot.getAxis("bottom").setTicks(ticks)
        self.matrix_plot.getAxis("left").setTicks(ticks)
        if len(matrix) <= MAX_TEXT_CLASSES:
            size = 9 if len(matrix) <= 12 else 7
            for (row, col), value in np.ndenumerate(matrix):
                dark = shares[row, col] > 0.6  # viridis turns yellow: dark text reads better there
                self._pending_texts.append((self.matrix_plot, f"{int(value)}", (col + 0.5, row + 0.5),
                                            "#16181b" if dark else style.PANEL_TEXT, size, row == col))
        self.matrix_plot.setRange(xRange=(0, len(matrix)), yRange=(0, len(matrix)), padding=0.02)

    def _draw_accuracy(self, matrix: np.ndarray, names: list) -> None:
        per_class = self.metrics.get("per_class_accuracy") or {}
        totals = matrix.sum(axis=1)
        values = [float(per_class.get(str(n), matrix[i, i] / max(totals[i], 1)))
                  for i, n in enumerate(names)]
        brushes = [style.color("green" if v >= 0.9 else "yellow" if v >= 0.7 else "red") for v in values]
        rows = np.arange(len(values)) + 0.5
        self.bars.setOpts(x0=np.zeros(len(values)), y=rows, width=values, height=0.7, brushes=brushes)
        self.accuracy_plot.getAxis("left").setTicks(class_ticks(names))
        self.accuracy_plot.setRange(xRange=(0, 1.12), yRange=(0, len(values)), padding=0.02)
        if len(values) <= MAX_TEXT_CLASSES:
            for row, value in zip(rows, values, strict=True):
                self._pending_texts.append((self.accuracy_plot, f"{100 * value:.0f}%", (value + 0.01, row),
                                            style.PANEL_TEXT, 8.5, False, (0, 0.5)))

    def _add_text(self, plot: pg.PlotItem, text: str, pos: tuple[float, float], color: str,
                  size: float = 8.5, bold: bool = False, anchor: tuple[float, float] = (0.5, 0.5)) -> None:
        spare = self._spare.setdefault(plot, [])
        if spare:
            item = spare.pop()
        else:
            item = pg.TextItem()
            item.setParentItem(self._text_layer(plot))
        item.setText(text, color=color)
        item.setAnchor(anchor)
        item.setFont(style.label_font(size, bold))
        item.setPos(*pos)
        item.show()
        self.texts.append((plot, item))

    def _text_layer(self, plot: pg.PlotItem) -> pg.ItemGroup:
        """One item per plot holding its labels, hidden while they are being (re)made: adding a
        label is a setParentItem, and a reset hides them all at once. Labels are reused by the
        next run's matrix: removing 110 labels from the scene took 30 ms in one turn."""
        layer = self._layers.get(plot)
        if layer is None:
            layer = self._layers[plot] = pg.ItemGroup()
            plot.addItem(layer, ignoreBounds=True)
        return layer

    def _clear_texts(self) -> None:
        """Hide the labels (one call per plot) and keep them for the next matrix."""
        self._pending_texts = []
        self._text_timer.stop()
        for layer in self._layers.values():
            layer.hide()
        for plot, item in self.texts:
            self._spare.setdefault(plot, []).append(item)
        self.texts = []

    def _show_texts(self) -> None:
        """All labels made: show them at once (spares left over stay hidden for later)."""
        for items in self._spare.values():
            for item in items:
                item.hide()
        for layer in self._layers.values():
            layer.show()
