"""The Runs dock and the Sweep action, composed into the window in one call.

`RunsDock(window)` adds the dock beside the log, overlays the selected runs
on the Curves plot, opens a double-clicked run's bundle, gives the training
controller the run store's recorder (so the GUI's runs are recorded in the
worker thread), refreshes after each run and adds Run ▸ Sweep….
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction

from engine.document import Document
from engine.runs.store import read_run
from gui.runs.overlay import RunOverlays
from gui.runs.panel import RunsPanel
from gui.runs.recording import gui_runs_dir, record_in_store

if TYPE_CHECKING:
    from gui.main_window import MainWindow


class RunsDock(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel = RunsPanel(confirm=window.dialogs.confirm)
        self.panel.setObjectName("runsPanel")
        dock = window._dock("runsDock", "Runs", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        window.tabifyDockWidget(window.docks["logDock"], dock)
        run_control = window.run_control
        self.overlays = RunOverlays(run_control.panel.curves)
        self.panel.runs_selected.connect(self.overlays.show)
        self.panel.open_requested.connect(window.open_path)
        controller = run_control.controller
        controller.record_run = record_in_store
        controller.finished.connect(self._refresh)
        controller.failed.connect(self._refresh)
        self.sweep_action = QAction("Sweep…", window)
        self.sweep_action.setStatusTip("Try several settings with Optuna; every trial is a recorded run")
        self.sweep_action.triggered.connect(lambda checked=False: self.open_sweep())
        window.menus.run.addAction(self.sweep_action)
        self.dialog = None

    def document_opened(self, doc: Document) -> None:
        """The new document's runs; another document's overlaid curves leave the plots."""
        self.overlays.clear()
        self.panel.set_store(gui_runs_dir(doc), doc.name)

    @Slot()
    def _refresh(self, *_args) -> None:
        self.panel.refresh()

    def open_sweep(self) -> None:
        """The Sweep dialog for the current document (saved first: the child process reads the file)."""
        from gui.runs.sweep_dialog import SweepDialog

        session = self.window.session
        if session is None:
            return
        doc = session.document
        if not doc.path:
            self.window.dialogs.error("Sweep", "Save the document first: the sweep trains the saved file.")
            return
        self.dialog = SweepDialog(doc, doc.path, gui_runs_dir(doc), self.window)
        self.dialog.tradeoff.run_clicked.connect(self.open_run)
        self.dialog.show()

    @Slot(str)
    def open_run(self, folder: str) -> None:
        """Open a run's bundle in the editor (a clicked trade-off point)."""
        run = read_run(folder)
        if run.bundle is not None:
            self.window.open_path(str(run.bundle))
        else:
            self.window.dialogs.error("Open run", f"{run.id} has no bundle ({run.status}).")
