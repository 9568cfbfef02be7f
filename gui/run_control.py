"""The window's side of training: Run/Pause/Stop, the device picker, plots, results.

Composed into the MainWindow rather than mixed in: it owns the Run menu's
actions, the training toolbar, the TrainingController and the TrainingPanel,
asks the window to lock editing while a run is in progress, and folds each
run's trained copy back into the editor's document when it ends (weights,
metrics, resume state), so Save and File ▸ Export carry the trained model.
The device picker edits the document's `training.device`, as the Training
tab does: the document is the one place the device is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar

from engine.document import Document
from engine.training import Epoch, Failed, Finished, Notice, Started
from gui.plots.panel import TrainingPanel
from gui.training.controller import PAUSED, RUNNING, STOPPING, TrainingController

if TYPE_CHECKING:
    from gui.main_window import MainWindow


class RunControl(QObject):
    """Run ▸ Run/Continue/Pause/Stop, the training toolbar with its device picker, the plots."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.engine_ready = True  # gui.app sets False until torch has loaded (set_engine_ready)
        self.controller = TrainingController(self)
        self.panel = TrainingPanel()
        self.panel.setObjectName("trainingPanel")
        self.panel.connect_controller(self.controller)
        window.docks["plotsDock"].setWidget(self.panel)
        self._queued_run: bool | None = None  # Run pressed while PyTorch loads: its `resume`
        self._build_actions()
        self._build_toolbar()
        self.controller.state_changed.connect(self.update_actions)
        self.controller.event.connect(self._log_event)
        self.controller.finished.connect(self.on_trained)
        self.controller.failed.connect(self.on_failed)
        self.update_actions(self.controller.state)

    # ---- construction --------------------------------------------------------------

    def _action(self, text: str, shortcut: str, tip: str, slot) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        return action

    def _build_actions(self) -> None:
        self.run_action = self._action("&Run Training", "F5", "Train the document", self.run)
        self.continue_action = self._action(
            "&Continue Training", "Ctrl+F5",
            "Resume the last run (or an opened bundle) where it stopped",
            lambda: self.run(resume=True))
        self.pause_action = self._action(
            "&Pause", "F6", "Pause training after the current step, or resume it",
            self.toggle_pause)
        self.stop_action = self._action("&Stop", "Shift+F5", "Stop training", self.controller.stop)

    def fill_menu(self, menu: QMenu) -> None:
        menu.addActions([self.run_action, self.continue_action, self.pause_action,
                         self.stop_action])

    def _build_toolbar(self) -> None:
        w = self.window
        bar = QToolBar("Training", w)
        bar.setObjectName("trainingToolbar")
        bar.addActions([self.run_action, self.continue_action, self.pause_action,
                        self.stop_action])
        bar.addSeparator()
        bar.addWidget(QLabel(" Device: "))
        self.device_box = QComboBox()
        self.device_box.setObjectName("devicePicker")
        self.device_box.addItems(["auto", "cpu"])  # the rest once torch has loaded
        self.device_box.setToolTip("Where to train (the document's training.device): "
                                   "auto picks CUDA, then MPS, then the CPU")
        self.device_box.activated.connect(self._device_chosen)
        bar.addWidget(self.device_box)
        w.addToolBar(bar)
        self.toolbar = bar

    # ---- PyTorch loading in the background (gui.app) ---------------------------------

    LOADING_TEXT = "loading PyTorch…"

    @Slot(bool)
    def set_engine_ready(self, ready: bool) -> None:
        """Until torch and the trainers have loaded, Run says so and waits; then it runs.

        gui.app imports them on a background thread after the first paint and
        calls this with False before and True after, on the GUI thread.
        """
        self.engine_ready = ready
        self.run_action.setText("&Run Training" if ready else f"&Run Training ({self.LOADING_TEXT})")
        if not ready:
            self.window.statusBar().showMessage(f"Ready to edit; {self.LOADING_TEXT}")
            return
        from engine.training.setup import available_devices

        self.device_box.clear()
        self.device_box.addItems(available_devices())
        if self.window.session is not None:
            self._show_device()
        self.window.training_editor.engine_loaded()
        self.window.statusBar().showMessage("PyTorch loaded", 3000)
        self.update_actions(self.controller.state)
        if self._queued_run is not None:
            resume, self._queued_run = self._queued_run, None
            self.run(resume=resume)

    # ---- running -------------------------------------------------------------------

    @Slot()
    def run(self, resume: bool = False) -> bool:
        """Train the editor's document; a document with errors is refused, with the reasons."""
        session = self.window.session
        if session is None or self.controller.is_running():
            return False
        if not self.engine_ready:  # run as soon as torch has loaded, without blocking now
            self._queued_run = resume
            self.window.statusBar().showMessage(f"Run starts when PyTorch has loaded ({self.LOADING_TEXT})")
            return False
        from engine.training import RunOptions

        doc = session.document
        resume = resume and doc.can_resume()
        options = RunOptions(resume=resume)  # the device is the document's training.device
        self.panel.begin_run(doc, resume=resume)
        errors = self.controller.start(doc, options)
        if errors:
            self.window.docks["problemsDock"].raise_()
            self.window.log_line("Cannot train: " + "; ".join(errors))
            self.window.dialogs.error("Cannot train this document",
                                      "Fix these first:\n\n" + "\n".join(errors))
            return False
        self.window.lock_editing(True)
        self.window.docks["plotsDock"].raise_()
        return True

    @Slot()
    def toggle_pause(self) -> None:
        if self.controller.state == PAUSED:
            self.controller.resume()
        else:
            self.controller.pause()

    @Slot(str)
    def update_actions(self, state: str) -> None:
        running = state in (RUNNING, PAUSED, STOPPING)
        session = self.window.session
        ready = session is not None  # while PyTorch loads, Run is queued (set_engine_ready)
        self.run_action.setEnabled(ready and not running)
        self.pause_action.setEnabled(state in (RUNNING, PAUSED))
        self.pause_action.setText("&Resume" if state == PAUSED else "&Pause")
        can_continue = session is not None and session.document.can_resume()
        self.continue_action.setEnabled(ready and not running and can_continue)
        self.device_box.setEnabled(session is not None and not running)
        self.stop_action.setEnabled(state in (RUNNING, PAUSED))
        self.panel.progress.set_paused(state == PAUSED)
        if state != "idle":
            self.window.statusBar().showMessage(f"Training: {state}")

    @Slot(object, object)
    def on_trained(self, event: Finished, trained: Document) -> None:
        self._take_results(trained)
        state = "stopped" if event.stopped else "finished"
        self.window.statusBar().showMessage(f"Training {state} in {event.seconds:.0f} s", 10000)

    @Slot(object, object)
    def on_failed(self, event: Failed, trained: Document) -> None:
        self._take_results(trained)
        self.window.statusBar().showMessage("Training failed: " + event.message.splitlines()[0], 10000)
        self.window.dialogs.error("Training failed", event.message)

    def _take_results(self, trained: Document) -> None:
        """Fold the trained copy's state into the editor's document; unlock editing."""
        self.window.lock_editing(False)
        session = self.window.session
        if session is not None and trained is not None and trained.weights:
            doc = session.document
            doc.weights, doc.metrics = trained.weights, trained.metrics
            doc.train_state = trained.train_state
            self.window.mark_trained()
        self.update_actions(self.controller.state)

    # ---- documents, selection, closing ------------------------------------------------

    def document_opened(self, doc: Document) -> None:
        """A new document in the editor: plots for its task, and a bundle's own results."""
        if doc.metrics:
            self.panel.show_document_results(doc)
        else:
            self.panel.reset(doc.training.get("task", "classification"), doc.path or doc.name)
        self.window.session.signals.trainingChanged.connect(self._on_training_changed)
        self._show_device()
        self.update_actions(self.controller.state)

    def _on_training_changed(self, key: str) -> None:
        if key == "device":
            self._show_device()
        self.update_actions(self.controller.state)  # more epochs: Continue becomes possible

    def _show_device(self) -> None:
        """Show the document's training.device (a value this machine lacks is shown too)."""
        device = str(self.window.session.document.training.get("device", "auto"))
        if self.device_box.findText(device) < 0:
            self.device_box.addItem(device)
        self.device_box.setCurrentText(device)

    @Slot(int)
    def _device_chosen(self, index: int) -> None:
        """The picker edits the document (one undo step), like the Training tab's field."""
        session = self.window.session
        if session is not None and not session.set_training("device", self.device_box.itemText(index)):
            self._show_device()  # refused (locked) or unchanged: show what the document says

    def node_selected(self, node_id: str | None, block: str | None) -> None:
        self.panel.select_node(node_id, block)

    def shutdown(self) -> None:
        self.controller.shutdown()

    @Slot(object)
    def _log_event(self, event: object) -> None:
        if isinstance(event, Started):
            params = ", ".join(f"{n}: {p:,} parameters" for n, p in event.parameters.items())
            self.window.log_line(f"Training '{event.task}' on {event.device} ({params})")
            for note in event.notes:  # precision or torch.compile not as asked
                self.window.log_line("Note: " + note)
        elif isinstance(event, Notice):
            self.window.log_line("Note: " + event.message)
        elif isinstance(event, Epoch):
            described = ", ".join(f"{k} {v:.4g}" for k, v in {**event.train, **{
                f"val_{k}": v for k, v in event.val.items()}}.items())
            self.window.log_line(f"epoch {event.epoch}: {described}")
        elif isinstance(event, Finished):
            scalars = {k: v for k, v in event.metrics.items() if isinstance(v, int | float)}
            self.window.log_line(("Stopped: " if event.stopped else "Finished: ")
                                 + ", ".join(f"{k} {v:.4g}" for k, v in scalars.items()))
        elif isinstance(event, Failed):
            self.window.log_line("Failed: " + event.message)

