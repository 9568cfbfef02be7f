"""The training dock's content: a progress line over tabs of plot panels fitted to the task.

How a window uses it:

    panel = TrainingPanel()
    dock.setWidget(panel)
    panel.connect_controller(controller)   # every controller event reaches handle()
    # on Run, before controller.start(doc, options):
    panel.begin_run(doc, resume=options.resume)
    # on selecting a node in the editor (also before a run):
    panel.select_node(node.id, node.block)  # shows it and asks the controller to watch it
    # on opening a bundle:
    panel.show_document_results(doc)        # its epoch curves and final metrics

`reset(task, document_key)` is what begin_run calls; the tabs shown are the ones
the task produces data for (TASK_TABS), and a classifier's Results tab comes to
the front when its run finishes. Each panel redraws itself on its own timer, at
most ~30 Hz and slower where frames are costly (gui.plots.base), and only while
visible, so hidden tabs cost nothing but appends. A Failed event shows in the
progress line; a dialog with the message is the window's to show (controller.failed).
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from engine.document import Document
from engine.training import Finished, Started
from gui.plots.base import PlotPanel
from gui.plots.curves import CurvePanel
from gui.plots.feature_maps import FeatureMapPanel
from gui.plots.progress import ProgressWidget
from gui.plots.results import ResultsPanel
from gui.plots.rl import RLPanel
from gui.plots.samples import SamplesPanel

TASK_TABS: dict[str, tuple[str, ...]] = {
    "classification": ("curves", "features", "results"),
    "node_classification": ("curves", "features", "results"),
    "perceptron": ("curves", "results"),
    "regression": ("curves", "features"),
    "sequence": ("curves", "features"),
    "autoencoder": ("curves", "samples", "features"),
    "gan": ("samples", "curves", "features"),
    "dqn": ("rl", "curves", "features"),
    "q_learning": ("rl",),
}
DEFAULT_TABS = ("curves", "features")
TITLES = {"curves": "Curves", "features": "Feature maps", "samples": "Samples",
          "rl": "Rewards", "results": "Results"}


def document_key(doc: Document) -> str:
    """What makes two runs 'the same document' for keeping faded previous curves."""
    return doc.path or doc.name


class TrainingPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = ""
        self.controller = None
        self._expecting_run = False
        self.progress = ProgressWidget()
        self.curves = CurvePanel()
        self.feature_maps = FeatureMapPanel()
        self.samples = SamplesPanel()
        self.rl = RLPanel()
        self.results = ResultsPanel()
        self.panels: dict[str, PlotPanel] = {"curves": self.curves, "features": self.feature_maps,
                                              "samples": self.samples, "rl": self.rl,
                                              "results": self.results}
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for key, panel in self.panels.items():
            self.tabs.addTab(panel, TITLES[key])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.progress)
        box.addWidget(self.tabs, 1)
        self.reset("classification")

    # ---- wiring ----------------------------------------------------------------------

    def connect_controller(self, controller) -> None:
        """Listen to a TrainingController; `select_node` then also sets what it watches."""
        self.controller = controller
        controller.event.connect(self.handle)

    def begin_run(self, doc: Document, resume: bool = False) -> None:
        """Prepare for a run of `doc`: a resumed run continues the same curves."""
        task = doc.training.get("task", "classification")
        self._expecting_run = True
        if resume and task == self.task and self.curves.document_key == document_key(doc):
            return
        self.reset(task, document_key(doc))

    def reset(self, task: str, document_key: str | None = None) -> None:
        self.task = task
        self.curves.reset(task, document_key)
        for key, panel in self.panels.items():
            if key != "curves":
                panel.reset(task)
        self.progress.reset()
        shown = TASK_TABS.get(task, DEFAULT_TABS)
        for key, panel in self.panels.items():
            self.tabs.setTabVisible(self.tabs.indexOf(panel), key in shown)
        self.tabs.setCurrentWidget(self.panels[shown[0]])

    def select_node(self, node_id: str | None, block: str | None = None) -> None:
        """Show this node's activations; the controller (if connected) starts reporting them."""
        self.feature_maps.show_node(node_id, block)
        if self.controller is not None:
            self.controller.watch([node_id] if node_id else [])

    def show_document_results(self, doc: Document) -> None:
        """A trained document (an opened bundle): its epoch curves and final metrics."""
        self.reset(doc.training.get("task", "classification"), document_key(doc))
        self.curves.load_history(doc.metrics.get("history", {}))
        metrics = {k: v for k, v in doc.metrics.items() if k != "history"}
        for panel in (self.curves, self.results, self.rl):
            panel.handle(Finished(metrics, False, 0.0))
        if self.results.has_matrix:
            self.tabs.setCurrentWidget(self.results)

    # ---- events ----------------------------------------------------------------------

    @Slot(object)
    def handle(self, event: object) -> None:
        """Every engine event; each panel picks the kinds it draws."""
        if isinstance(event, Started):
            # A run nobody announced with begin_run: start fresh plots rather than draw over old ones.
            if event.task != self.task or not (self._expecting_run or event.start_epoch > 0):
                self.reset(event.task, self.curves.document_key)
            self._expecting_run = False
        self.progress.handle(event)
        for panel in self.panels.values():
            panel.handle(event)
        if isinstance(event, Finished) and not event.stopped and self.results.has_matrix:
            self.tabs.setCurrentWidget(self.results)

    def flush(self) -> None:
        """Redraw every panel now, visible or not (for rendering to a file)."""
        for panel in self.panels.values():
            panel.flush()
        self.progress.update_text()
