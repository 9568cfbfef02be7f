"""The Sweep dialog: parameters from the document, ranges, trials and a metric; a live results table.

The sweep runs as a child process (`netcanvas sweep ...` through QProcess), so
the GUI thread never trains; each trial it reports refreshes the table from the
run store, and the trade-off plot shows the runs so far against their cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from engine.document import Document
from engine.runs.settings import flatten
from engine.runs.store import list_runs
from gui.runs.tradeoff import TradeoffPlot

ROOT = Path(__file__).resolve().parents[2]


def sweepable_paths(doc: Document) -> list[str]:
    """Every numeric training setting and node parameter, as `--param` paths."""
    paths = [f"training.{k}" for k, v in flatten(doc.training).items()
             if isinstance(v, int | float) and not isinstance(v, bool) and not k.startswith("dataset")]
    for network in doc.networks.values():
        prefix = f"{network.name}." if len(doc.networks) > 1 else ""
        for node in network.nodes.values():
            paths += [f"{prefix}{node.id}.{name}" for name, value in node.params.items()
                      if isinstance(value, int | float) and not isinstance(value, bool)]
    return paths


class SweepDialog(QDialog):
    trial_done = Signal()  # a trial ended and the table was refreshed
    sweep_ended = Signal(int)  # the child's exit code

    def __init__(self, doc: Document, document_file: str, runs: Path, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.file, self.runs_root = document_file, Path(runs)
        self.process: QProcess | None = None
        self.name = ""
        self.param_box, self.values = QComboBox(), QLineEdit("1e-4:1e-1:log")
        self.param_box.addItems(sweepable_paths(doc))
        self.params = QPlainTextEdit()
        self.params.setPlaceholderText("one PATH=VALUES per line, e.g. training.optimizer.lr=1e-4,1e-3")
        add = QPushButton("Add")
        add.clicked.connect(self.add_param)
        self.trials = QSpinBox(minimum=1, maximum=10_000, value=10)
        self.search = QComboBox()
        self.search.addItems(["tpe", "random", "grid"])
        self.metric, self.epochs = QLineEdit("test_accuracy"), QSpinBox(minimum=0, maximum=100_000)
        self.epochs.setSpecialValueText("document's")
        self.status = QLabel("")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Run", "Status", "Metric", "Parameters"])
        self.table.setSortingEnabled(True)
        self.tradeoff = TradeoffPlot()
        self._layout(add)

    def _layout(self, add: QPushButton) -> None:
        pick = QHBoxLayout()
        for widget in (self.param_box, self.values, add):
            pick.addWidget(widget)
        form = QFormLayout()
        form.addRow("Parameter", pick)
        form.addRow("Swept", self.params)
        form.addRow("Trials", self.trials)
        form.addRow("Search", self.search)
        form.addRow("Metric", self.metric)
        form.addRow("Epochs", self.epochs)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.start_button)
        box.addWidget(self.status)
        box.addWidget(self.table, 1)
        box.addWidget(self.tradeoff, 1)

    @Slot()
    def add_param(self) -> None:
        self.params.appendPlainText(f"{self.param_box.currentText()}={self.values.text().strip()}")

    def arguments(self) -> list[str]:
        args = ["-m", "engine.cli", "sweep", self.file, "--runs", str(self.runs_root),
                "--trials", str(self.trials.value()), "--search", self.search.currentText(),
                "--metric", self.metric.text().strip()]
        for line in self.params.toPlainText().splitlines():
            if line.strip():
                args += ["--param", line.strip()]
        if self.epochs.value():
            args += ["--epochs", str(self.epochs.value())]
        return args

    @Slot()
    def start(self) -> None:
        """Start `netcanvas sweep` as a child process; its trial lines refresh the table."""
        self.process = QProcess(self)
        self.process.setWorkingDirectory(str(ROOT))
        environment = self.process.processEnvironment()
        environment.insert("PYTHONPATH", str(ROOT))
        self.process.setProcessEnvironment(environment)
        self.process.readyReadStandardError.connect(self._progress)
        self.process.finished.connect(self._ended)
        self.start_button.setEnabled(False)
        self.status.setText("running…")
        self.process.start(sys.executable, self.arguments())

    @Slot()
    def _progress(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("sweep "):
                self.name = line.split()[1].rstrip(":")
            if line.startswith("trial "):
                self.status.setText(line)
                self.refresh()
                self.trial_done.emit()

    @Slot(int, QProcess.ExitStatus)
    def _ended(self, code: int, _status) -> None:
        self.refresh()
        self.start_button.setEnabled(True)
        self.status.setText("done" if code == 0 else f"the sweep stopped (exit code {code})")
        self.sweep_ended.emit(code)

    def refresh(self) -> None:
        """The sweep's runs so far, best first by the metric, and the trade-off plot."""
        metric = self.metric.text().strip()
        runs = [run for run in list_runs(self.runs_root)
                if (run.record.get("sweep") or {}).get("name") == self.name]
        maximize = "loss" not in metric
        runs.sort(key=lambda r: -(r.metrics.get(metric) or 0) if maximize else (r.metrics.get(metric) or 0))
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            params = ", ".join(f"{k}={v}" for k, v in run.record["sweep"].get("params", {}).items())
            for column, value in enumerate((run.id, run.status, run.metrics.get(metric), params)):
                item = QTableWidgetItem()
                item.setData(0, value if isinstance(value, float) else str(value or ""))
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        self.tradeoff.set_runs(runs, metric, maximize)
