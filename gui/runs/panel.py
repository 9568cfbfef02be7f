"""The Runs panel: the runs of the current document (or every document), sortable, starred, noted.

Selecting rows emits `runs_selected` (the dock overlays their curves);
double-click emits `open_requested` with the run's bundle; Delete moves the
run folder to the system trash after a confirmation. The note and the star
live in the run folder (`notes.json`), so they travel with it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFile, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runs.store import RunCache, RunInfo, list_runs

FIXED = ("★", "Run", "Status", "Started")
TAIL = ("Duration (s)", "Parameters", "Note")
PATH_ROLE = Qt.ItemDataRole.UserRole + 1


class RunsPanel(QWidget):
    runs_selected = Signal(list)  # [RunInfo], in table order
    open_requested = Signal(str)  # a bundle (or run.json's document) to open
    changed = Signal()  # the table was refilled

    def __init__(self, parent: QWidget | None = None,
                 confirm: Callable[[str, str], bool] | None = None) -> None:
        super().__init__(parent)
        self.root: Path | None = None
        self.document_name: str | None = None
        self.confirm = confirm or (lambda title, text: True)
        self.runs: dict[str, RunInfo] = {}
        self._cache: RunCache = {}  # runs read before, kept while their files are unchanged
        self._metrics: list[str] | None = None  # the metric columns the table has
        self._filling = False
        self.all_box = QCheckBox("All documents")
        self.all_box.toggled.connect(lambda _: self.refresh())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.delete_selected)
        bar = QHBoxLayout()
        bar.addWidget(self.all_box)
        bar.addStretch(1)
        bar.addWidget(refresh)
        bar.addWidget(self.delete_button)
        self.table = QTableWidget(0, len(FIXED) + len(TAIL))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(bar)
        box.addWidget(self.table, 1)

    # ---- contents ---------------------------------------------------------------

    def set_store(self, root: Path, document_name: str | None) -> None:
        self.root, self.document_name = Path(root), document_name
        self._metrics = None  # another document: rebuilt, not updated
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """List the store again; rows of runs that did not change are kept as they are.

        The window refreshes after every run: with hundreds of runs, reading every
        folder and rebuilding every row stalled the window for 100 ms and more, and
        dropped the selection (and with it the overlaid curves)."""
        runs = list_runs(self.root, self._cache) if self.root is not None else []
        if not self.all_box.isChecked() and self.document_name is not None:
            runs = [run for run in runs if run.document_name == self.document_name]
        metrics = sorted({k for run in runs for k in run.metrics})
        self._filling = True
        self.table.setSortingEnabled(False)
        if metrics == self._metrics and self.table.rowCount():
            self._update_rows(runs)
        else:
            self._rebuild(runs, metrics)
        self.runs = {str(run.path): run for run in runs}
        self.table.setSortingEnabled(True)
        self._filling = False
        self.changed.emit()

    def _rebuild(self, runs: list[RunInfo], metrics: list[str]) -> None:
        self._metrics = metrics
        self.table.clearContents()
        self.table.setRowCount(len(runs))
        self.table.setColumnCount(len(FIXED) + len(metrics) + len(TAIL))
        self.table.setHorizontalHeaderLabels([*FIXED, *metrics, *TAIL])
        for row, run in enumerate(runs):
            self._fill_row(row, run, metrics)
        self.table.resizeColumnsToContents()

    def _update_rows(self, runs: list[RunInfo]) -> None:
        """Refill only rows whose run was read again (or still runs: its status is live),
        add the new runs and remove the gone ones."""
        rows = {self.table.item(row, 1).data(PATH_ROLE): row for row in range(self.table.rowCount())}
        wanted = {str(run.path): run for run in runs}
        for path in sorted((p for p in rows if p not in wanted), key=rows.get, reverse=True):
            self.table.removeRow(rows[path])
        rows = {self.table.item(row, 1).data(PATH_ROLE): row for row in range(self.table.rowCount())}
        for path, run in wanted.items():
            row = rows.get(path)
            if row is None:
                row = self.table.rowCount()
                self.table.insertRow(row)
            elif self.runs.get(path) is run and run.record.get("status") != "running":
                continue
            self._fill_row(row, run, self._metrics)

    def _fill_row(self, row: int, run: RunInfo, metrics: list[str]) -> None:
        star = QTableWidgetItem()
        star.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        star.setCheckState(Qt.CheckState.Checked if run.notes.get("star") else Qt.CheckState.Unchecked)
        values = [run.id, run.status, run.record.get("started") or "",
                  *(run.metrics.get(k) for k in metrics),
                  round(run.duration, 1) if run.duration is not None else None,
                  run.record.get("parameters"), run.notes.get("note", "")]
        cells = [star, *(_cell(v) for v in values)]
        cells[2].setToolTip(run.record.get("reason") or run.status)
        for column, cell in enumerate(cells):
            cell.setData(PATH_ROLE, str(run.path))
            if column != len(cells) - 1 and column != 0:
                cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, column, cell)

    # ---- reactions ----------------------------------------------------------------

    def selected_runs(self) -> list[RunInfo]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        paths = [self.table.item(row, 1).data(PATH_ROLE) for row in rows]
        return [self.runs[p] for p in paths if p in self.runs]

    def select_ids(self, ids: list[str]) -> None:
        """Select the rows of these run ids (a test's or a sweep's shortcut to a comparison)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 1).text() in ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    @Slot()
    def _selection_changed(self) -> None:
        self.runs_selected.emit(self.selected_runs())

    @Slot(QTableWidgetItem)
    def _item_changed(self, item: QTableWidgetItem) -> None:
        run = self.runs.get(item.data(PATH_ROLE))
        if self._filling or run is None:
            return
        if item.column() == 0:
            run.set_notes(star=item.checkState() == Qt.CheckState.Checked)
        elif item.column() == self.table.columnCount() - 1:
            run.set_notes(note=item.text())

    @Slot(int, int)
    def _double_clicked(self, row: int, column: int) -> None:
        if column == self.table.columnCount() - 1:
            return  # the note: edits in place
        run = self.runs.get(self.table.item(row, 1).data(PATH_ROLE))
        if run is not None and run.bundle is not None:
            self.open_requested.emit(str(run.bundle))

    @Slot()
    def delete_selected(self) -> list[str]:
        """Move the selected run folders to the system trash (deleted where there is none)."""
        runs = self.selected_runs()
        if not runs or not self.confirm(
                "Delete runs", f"Move {len(runs)} run folder(s) to the trash?\n\n"
                + "\n".join(run.id for run in runs)
                + "\n\nWhere the system has no trash, they are deleted."):
            return []
        for run in runs:
            moved = QFile.moveToTrash(str(run.path))  # (ok, new path) or ok, by PySide version
            if not (moved[0] if isinstance(moved, tuple) else moved):
                shutil.rmtree(run.path, ignore_errors=True)
        self.refresh()
        return [run.id for run in runs]


def _cell(value) -> QTableWidgetItem:
    """Numbers sort as numbers (Qt compares the EditRole data)."""
    item = QTableWidgetItem()
    if isinstance(value, float):
        item.setData(Qt.ItemDataRole.EditRole, round(value, 6))
    elif value is None:
        item.setText("")
    elif isinstance(value, int):
        item.setData(Qt.ItemDataRole.EditRole, value)
    else:
        item.setText(str(value))
    return item
