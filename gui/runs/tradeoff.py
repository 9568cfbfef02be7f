"""Accuracy against cost: one point per run, the Pareto front drawn, a click opens the run.

The x axis is a cost (parameters, multiply-adds or training time), the y axis
the chosen final metric; the front (engine.runs.compare.pareto_front) joins
the runs no other run beats on both. Lower cost is better; the metric's
direction says whether higher or lower is better.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.runs.compare import pareto_front
from engine.runs.store import RunInfo
from gui.plots import style

COSTS = {"parameters": "Parameters", "macs": "Multiply-adds", "duration": "Training time (s)"}


def cost_of(run: RunInfo, cost: str) -> float | None:
    value = run.duration if cost == "duration" else run.record.get(cost)
    return float(value) if isinstance(value, int | float) else None


class TradeoffPlot(QWidget):
    run_clicked = Signal(str)  # the run folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunInfo] = []
        self.points: list[tuple[float, float]] = []
        self.point_runs: list[RunInfo] = []
        self.front: list[int] = []
        self.metric, self.maximize = "", True
        self.metric_box, self.cost_box = QComboBox(), QComboBox()
        for key, text in COSTS.items():
            self.cost_box.addItem(text, key)
        self.metric_box.currentTextChanged.connect(lambda _: self._redraw())
        self.cost_box.currentIndexChanged.connect(lambda _: self._redraw())
        bar = QHBoxLayout()
        for label, box in (("Metric", self.metric_box), ("against", self.cost_box)):
            bar.addWidget(QLabel(label))
            bar.addWidget(box)
        bar.addStretch(1)
        self.view = style.graphics_layout()
        self.plot = style.style_plot(self.view.ci.addPlot(), "Trade-off", "cost", "metric")
        self.scatter = pg.ScatterPlotItem(size=10, brush=style.color("blue", 220), pen=None)
        self.scatter.sigClicked.connect(self._clicked)
        self.front_item = self.plot.plot(pen=style.pen("orange", 1.6))
        self.plot.addItem(self.scatter)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(bar)
        box.addWidget(self.view, 1)

    def set_runs(self, runs: list[RunInfo], metric: str | None = None, maximize: bool | None = None,
                 cost: str | None = None) -> None:
        self.runs = list(runs)
        metrics = sorted({k for run in runs for k in run.metrics})
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        self.metric_box.addItems(metrics)
        if metric in metrics:
            self.metric_box.setCurrentText(metric)
        self.metric_box.blockSignals(False)
        if cost is not None:
            self.cost_box.setCurrentIndex(list(COSTS).index(cost))
        self.maximize = maximize if maximize is not None else "loss" not in (metric or "")
        self._redraw()

    def _redraw(self) -> None:
        self.metric = self.metric_box.currentText()
        cost = self.cost_box.currentData()
        self.points, self.point_runs = [], []
        for run in self.runs:
            x, y = cost_of(run, cost), run.metrics.get(self.metric)
            if x is not None and isinstance(y, int | float):
                self.points.append((x, float(y)))
                self.point_runs.append(run)
        self.scatter.setData([{"pos": p, "data": i} for i, p in enumerate(self.points)])
        self.front = pareto_front(self.points, self.maximize)
        self.front_item.setData([self.points[i][0] for i in self.front], [self.points[i][1] for i in self.front])
        self.plot.setLabel("bottom", COSTS[cost])
        self.plot.setLabel("left", self.metric)

    def _clicked(self, _item, spots, *_args) -> None:
        if len(spots):
            self.open_point(int(spots[0].data()))

    def open_point(self, index: int) -> None:
        self.run_clicked.emit(str(self.point_runs[index].path))
