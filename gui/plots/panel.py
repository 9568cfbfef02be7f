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
visible, so hidden tabs cost nothing but appends. A tab's panel is built on first
need (`panel(key)`: shown, or data it keeps arriving), so unused tabs cost nothing. A Failed event shows in the
progress line; a dialog with the message is the window's to show (controller.failed).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from engine.document import Document
from engine.training import Activations, Episode, Finished, Samples, Started, Step
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
IDLE_BUILD_MS = 200  # after a reset, the task's other tabs are built one per turn this much later
FACTORIES: dict[str, type[PlotPanel]] = {"curves": CurvePanel, "features": FeatureMapPanel,
                                         "samples": SamplesPanel, "rl": RLPanel, "results": ResultsPanel}
# Events a panel keeps while hidden: one arriving builds the panel, where the task shows it.
NEEDS: dict[str, tuple[type, ...]] = {"features": (Activations,), "samples": (Samples,),
                                      "rl": (Episode, Finished), "results": (Finished,)}
TITLES = {"curves": "Curves", "features": "Feature maps", "samples": "Samples",
          "rl": "Rewards", "results": "Results"}


def document_key(doc: Document) -> str:
    """What makes two runs 'the same document' for keeping faded previous curves."""
    return doc.path or doc.name


class TrainingPanel(QWidget):
    """Panels other than the curves are built on first need: when their tab is shown, when an
    event they keep (NEEDS) arrives for a task that shows them, or in an idle turn after a
    reset for the task's tabs (`build_next`). Until then a tab holds an empty placeholder, and
    a session that never trains a GAN or an agent never builds their plots (building every
    panel's plots up front made the window slow to open)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = ""
        self.controller = None
        self._expecting_run = False
        self._selected: tuple[str | None, str | None] = (None, None)
        self._swapping = False
        self.progress = ProgressWidget()
        self.panels: dict[str, PlotPanel] = {}  # the panels built so far
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._placeholders: dict[str, QWidget] = {}
        for key in FACTORIES:
            self._placeholders[key] = QWidget()
            self.tabs.addTab(self._placeholders[key], TITLES[key])
        self.tabs.currentChanged.connect(self._tab_shown)
        self._idle_build = QTimer(self, singleShot=True, interval=IDLE_BUILD_MS)
        self._idle_build.timeout.connect(self.build_next)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.progress)
        box.addWidget(self.tabs, 1)
        self.panel("curves")
        self.reset("classification")

    def panel(self, key: str) -> PlotPanel:
        """The panel of tab `key`, built now if it was not yet (it replaces its placeholder)."""
        built = self.panels.get(key)
        if built is not None:
            return built
        built = self.panels[key] = FACTORIES[key]()
        built.reset(self.task)
        if key == "features":
            built.show_node(*self._selected)
        placeholder = self._placeholders.pop(key)
        index, current = self.tabs.indexOf(placeholder), self.tabs.currentWidget() is placeholder
        self._swapping = True  # removing the current tab makes another current: not a show
        try:
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, built, TITLES[key])
            self.tabs.setTabVisible(index, key in self._shown())
            if current:
                self.tabs.setCurrentIndex(index)
        finally:
            self._swapping = False
        placeholder.deleteLater()
        return built

    @Slot()
    def build_next(self) -> bool:
        """Build one more of the task's tabs, if any is left; the rest follow in later turns.

        Called after the window has painted: a tab is ready before Run without making the
        window slower to open or a run's first data pay for building it. True if one was built."""
        missing = [key for key in self._shown() if key not in self.panels]
        if missing:
            self.panel(missing[0])
        if len(missing) > 1:
            self._idle_build.start()
        return bool(missing)

    curves = property(lambda self: self.panel("curves"))
    feature_maps = property(lambda self: self.panel("features"))
    samples = property(lambda self: self.panel("samples"))
    rl = property(lambda self: self.panel("rl"))
    results = property(lambda self: self.panel("results"))

    def _shown(self) -> tuple[str, ...]:
        return TASK_TABS.get(self.task, DEFAULT_TABS)

    def _tab_widget(self, key: str) -> QWidget:
        built = self.panels.get(key)
        return built if built is not None else self._placeholders[key]

    @Slot(int)
    def _tab_shown(self, index: int) -> None:
        if self._swapping:
            return
        for key, placeholder in list(self._placeholders.items()):
            if self.tabs.widget(index) is placeholder:
                self.panel(key)

    # ---- wiring ----------------------------------------------------------------------

    def connect_controller(self, controller) -> None:
        """Listen to a TrainingController; `select_node` then also sets what it watches."""
        self.controller = controller
        controller.events.connect(self.handle_events)

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
        shown = self._shown()
        for key in FACTORIES:
            self.tabs.setTabVisible(self.tabs.indexOf(self._tab_widget(key)), key in shown)
        self.tabs.setCurrentWidget(self.panel(shown[0]))
        self._idle_build.start()

    def select_node(self, node_id: str | None, block: str | None = None) -> None:
        """Show this node's activations; the controller (if connected) starts reporting them."""
        self._selected = (node_id, block)
        if "features" in self.panels:
            self.feature_maps.show_node(node_id, block)
        if self.controller is not None:
            self.controller.watch([node_id] if node_id else [])

    def show_document_results(self, doc: Document) -> None:
        """A trained document (an opened bundle): its epoch curves and final metrics."""
        self.reset(doc.training.get("task", "classification"), document_key(doc))
        self.curves.load_history(doc.metrics.get("history", {}))
        metrics = {k: v for k, v in doc.metrics.items() if k != "history"}
        finished = Finished(metrics, False, 0.0)
        self.curves.handle(finished)
        for key in ("results", "rl"):
            if key in self._shown() or key in self.panels:
                self.panel(key).handle(finished)
        if self._has_matrix():
            self.tabs.setCurrentWidget(self.results)

    # ---- events ----------------------------------------------------------------------

    @Slot(object)
    def handle_events(self, events: list) -> None:
        """A piece of the controller's events: a run of Steps goes to the two panels that
        draw steps in one call each (a flood of tiny steps then costs the GUI per piece, not
        per step); any other event is handled alone."""
        if isinstance(events[0], Step):
            self.progress.handle_steps(events)
            self.curves.add_steps(events)
            return
        for event in events:
            self.handle(event)

    @Slot(object)
    def handle(self, event: object) -> None:
        """Every engine event; each panel picks the kinds it draws."""
        if isinstance(event, Started):
            # A run nobody announced with begin_run: start fresh plots rather than draw over old ones.
            if event.task != self.task or not (self._expecting_run or event.start_epoch > 0):
                self.reset(event.task, self.curves.document_key)
            self._expecting_run = False
        self.progress.handle(event)
        shown = self._shown()
        for key, kinds in NEEDS.items():
            if key not in self.panels and key in shown and isinstance(event, kinds):
                self.panel(key)
        for panel in list(self.panels.values()):
            panel.handle(event)
        if isinstance(event, Finished) and not event.stopped and self._has_matrix():
            self.tabs.setCurrentWidget(self.results)

    def _has_matrix(self) -> bool:
        return "results" in self.panels and self.results.has_matrix

    def flush(self) -> None:
        """Redraw every panel now, visible or not (for rendering to a file)."""
        for panel in self.panels.values():
            panel.flush()
        self.progress.update_text()
