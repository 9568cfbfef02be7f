"""Selected runs drawn over the live curves: a colour per run, the legend names it.

The overlays are extra items on the CurvePanel's own plots (same axes as the
live run): the per-step loss, train (dashed) and validation (solid) loss per
epoch, and every other validation metric per epoch. They are read from each
run's metrics.csv.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.runs.store import RunInfo
from gui.plots import style

MAX_POINTS = 2000  # a step curve thinned to this many points: an overlay is context, not detail
ALPHA = 200


class RunOverlays:
    """Owns the overlay items it put on a CurvePanel; `show` replaces them."""

    def __init__(self, curves) -> None:
        self.curves = curves
        self.items: list[tuple[pg.PlotItem, pg.PlotDataItem]] = []
        self.labels: dict[str, str] = {}  # run id -> the legend's text

    def clear(self) -> None:
        for plot, item in self.items:
            legend = self.curves.legends.get(plot)
            if legend is not None:
                legend.removeItem(item)
            plot.removeItem(item)
        self.items, self.labels = [], {}

    def show(self, runs: list[RunInfo]) -> None:
        self.clear()
        for index, run in enumerate(runs):
            colour = style.series_color(index + 1, ALPHA)
            self.labels[run.id] = f"run {run.id}"
            named: set[int] = set()
            for key, points in sorted(run.curves().items()):
                plot, dashed = self._plot_for(key)
                if plot is None or not points:
                    continue
                x, y = _thin(points)
                item = plot.plot(x, y, pen=pg.mkPen(colour, width=1.6, style=_dash(dashed)))
                self.items.append((plot, item))
                legend = self.curves.legends.get(plot)
                if legend is not None and id(plot) not in named:
                    legend.addItem(item, self.labels[run.id])
                    legend.setVisible(True)
                    named.add(id(plot))

    def _plot_for(self, key: str) -> tuple[pg.PlotItem | None, bool]:
        if key == "loss":
            return self.curves.loss_plot, False
        if key in ("train_loss", "val_loss"):
            return self.curves.epoch_plot, key == "train_loss"
        if key.startswith("val_"):
            return self.curves.metric_plot, False
        return None, False


def _thin(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(points, dtype=float)
    if len(data) > MAX_POINTS:
        data = data[np.linspace(0, len(data) - 1, MAX_POINTS).astype(int)]
    return data[:, 0], data[:, 1]


def _dash(dashed: bool):
    from PySide6.QtCore import Qt

    return Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
