"""The main window: canvas tabs, docks, menus, status bar, title, settings and drops.

It owns one `EditorSession` at a time and one scene + view per network of
that document. Edit commands from the menus act on the current tab through
the session, so the Document stays the only state that matters. File,
export, run and help commands are objects composed into the window, each
with its own actions and menu section (`files`, `exports`, `run_control`,
`help`); the window only assembles the menus and shows the document.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QPointF, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QTabBar,
    QTabWidget,
    QWidget,
)

from engine.document import Document
from gui import settings
from gui.actions import build_actions, build_menus
from gui.background import BackgroundTasks
from gui.dialogs import Dialogs
from gui.editor import clipboard
from gui.editor.geometry import to_doc, to_scene
from gui.editor.graphs import block_of, graph_title
from gui.editor.inspector import Inspector
from gui.editor.layout import auto_layout
from gui.editor.palette import PaletteWidget
from gui.editor.problems import ProblemsPanel
from gui.editor.scene import EditorScene
from gui.editor.session import EditorSession
from gui.editor.text import fmt_count, plural
from gui.editor.training_editor import TrainingEditor
from gui.editor.view import FILE_SUFFIXES, EditorView
from gui.exporting import ExportCommands
from gui.files import FileCommands
from gui.help import HelpCommands
from gui.recovery import AUTOSAVE_MS, Autosaver
from gui.run_control import RunControl
from gui.theme_menu import ThemeMenu

PLOTS_HEIGHT = 400  # px: enough for three rows of readable curves
PASTE_OFFSET = (30.0, 30.0)  # document units, for paste without a cursor and duplicate


class MainWindow(QMainWindow):
    def __init__(self, dialogs: Dialogs | None = None, persist: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.persist = persist  # False: neither read nor write QSettings (screenshots)
        self.dialogs = dialogs or Dialogs(self)
        self.undo_group = QUndoGroup(self)
        self.session: EditorSession | None = None
        self.scenes: dict[str, EditorScene] = {}
        self.views: dict[str, EditorView] = {}
        self.path: str | None = None
        self.template = False
        self.trained_unsaved = False  # weights from a run that no bundle holds yet
        self.tasks = BackgroundTasks(self)
        self.autosaver = Autosaver()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("canvasTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.tabBar().setDrawBase(False)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.tabs.setTabsClosable(True)  # definition tabs only (gui/composites.py)
        self.setCentralWidget(self.tabs)
        self._build_docks()
        self._compose()
        self._build_status_bar()
        self.setAcceptDrops(True)
        self.resize(1500, 920)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.files.autosave_now)
        self.autosave_timer.start()
        self.restore_settings()

    # ---- construction ----------------------------------------------------------------

    def _compose(self) -> None:
        """The window's own actions, then each command object fills its menu section."""
        self.actions_ = build_actions(self)
        self.menus = build_menus(self, self.actions_)
        self.files = FileCommands(self)
        self.exports = ExportCommands(self)
        self.run_control = RunControl(self)
        self.help = HelpCommands(self)
        from gui.composites import CompositeCommands

        self.composites = CompositeCommands(self)
        self.composites.fill_menu(self.menus.edit)
        self.theme_menu = ThemeMenu(self, self.menus.view)  # View ▸ Theme (issue 12, edge 13)
        submenus = self.files.fill_menu(self.menus.file)
        self.menus.presets, self.menus.recent = submenus.presets, submenus.recent
        self.menus.file.addSeparator()
        self.run_control.fill_menu(self.menus.run)
        self.exports.fill_menus(self.menus.file, self.menus.run)
        self.menus.file.addSeparator()
        self.menus.file.addAction(self.actions_.quit)
        self.help.fill_menu(self.menus.help)
        from gui.runs.dock import RunsDock  # the run store's dock and Run ▸ Sweep…

        self.runs = RunsDock(self)

    # ---- entry points (start-up, drops, scripts) ---------------------------------------

    def open_path(self, path: str) -> bool:
        return self.files.open_path(path)

    def open_preset(self, path: str) -> bool:
        return self.files.open_preset(path)

    def new_document(self) -> bool:
        return self.files.new_document()

    def offer_recovery(self) -> bool:
        return self.files.offer_recovery()

    def _dock(self, name: str, title: str, widget: QWidget | None, area: Qt.DockWidgetArea,
              ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if widget is not None:
            dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        return dock

    def _build_docks(self) -> None:
        """Palette left; inspector and training right; problems, plots and log below."""
        self.docks: dict[str, QDockWidget] = {}
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.palette = PaletteWidget()
        self.palette.blockActivated.connect(self.add_block_in_view)
        self._dock("paletteDock", "Blocks", self.palette, left)
        self.inspector = Inspector()
        self._dock("inspectorDock", "Inspector", self.inspector, right)
        self.training_editor = TrainingEditor()
        training = self._dock("trainingDock", "Training", self.training_editor, right)
        self.tabifyDockWidget(self.docks["inspectorDock"], training)
        self.docks["inspectorDock"].raise_()
        self.problems = ProblemsPanel()
        self.problems.nodeRequested.connect(self.focus_node)
        self._dock("problemsDock", "Problems", self.problems, bottom)
        self._dock("plotsDock", "Plots", QWidget(), bottom)  # RunControl puts the plots in
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setObjectName("logView")
        log_dock = self._dock("logDock", "Log", self.log, bottom)
        log_dock.visibilityChanged.connect(self._log_shown)
        self._restored = False

    def showEvent(self, event) -> None:
        """First show without saved settings: give the canvas most of the room."""
        super().showEvent(event)
        if not self._restored:
            self._restored = True
            # Tabify once the window has its size: done earlier, Qt 6.11 leaves a stray
            # tab bar drawn over the canvas.
            self.tabifyDockWidget(self.docks["plotsDock"], self.docks["logDock"])
            self.docks["plotsDock"].raise_()
            self.resizeDocks([self.docks["paletteDock"], self.docks["inspectorDock"]],
                             [200, 300], Qt.Orientation.Horizontal)
            # Plots get most of the bottom: curves need height to be read while training.
            self.resizeDocks([self.docks["plotsDock"]], [PLOTS_HEIGHT], Qt.Orientation.Vertical)
            self.resizeDocks([self.docks["problemsDock"]], [int(self.width() * 0.25)],
                             Qt.Orientation.Horizontal)

    def log_line(self, text: str) -> None:
        """One line in the Log dock (runs, exports, imports)."""
        self.log.appendPlainText(text)

    @Slot(bool)
    def _log_shown(self, visible: bool) -> None:
        """Opening the Log shows its newest line: lines added while it was hidden
        do not move its scroll bar."""
        if visible:
            bar = self.log.verticalScrollBar()
            bar.setValue(bar.maximum())

    def mark_trained(self) -> None:
        """A run finished: its weights are in the document but in no file yet."""
        self.trained_unsaved = True
        self.update_title()

    def _build_status_bar(self) -> None:
        self.selection_label = QLabel()
        self.totals_label = QLabel()
        self.statusBar().addWidget(self.selection_label, 1)
        self.statusBar().addPermanentWidget(self.totals_label)

    # ---- the document --------------------------------------------------------------------

    def set_document(self, doc: Document, path: str | None, template: bool = False,
                     dirty: bool = False) -> None:
        """Show `doc`: a fresh session, one tab per network, frame everything."""
        self._close_session()
        self.session = EditorSession(doc, self)
        self.path, self.template = path, template
        doc.path = path
        self.undo_group.addStack(self.session.undo_stack)
        self.undo_group.setActiveStack(self.session.undo_stack)
        self.session.undo_stack.cleanChanged.connect(self.update_title)
        self.session.checked.connect(self.update_status)
        self.session.refused.connect(lambda msg: self.statusBar().showMessage(msg, 6000))
        for name in doc.networks:
            self.add_canvas(name)
        self.inspector.set_session(self.session)
        self.training_editor.set_session(self.session)
        self.problems.set_session(self.session)
        self.composites.document_opened(self.session)
        if dirty:
            self.session.undo_stack.resetClean()
        self.trained_unsaved = False
        self.update_title()
        self.update_status()
        self.run_control.document_opened(doc)
        self.runs.document_opened(doc)
        QTimer.singleShot(0, self.frame_all_tabs)

    def add_canvas(self, name: str, index: int = -1) -> EditorView:
        """A tab for a network, or for a definition (`name` a graph key, graphs.py)."""
        scene = EditorScene(self.session, name)
        view = EditorView(scene)
        view.setObjectName(f"canvas_{name}")
        view.filesDropped.connect(self.files.open_paths)
        view.minimap.set_enabled(self.actions_.minimap.isChecked())
        scene.snap_enabled = self.actions_.snap.isChecked()
        scene.selectionChanged.connect(self._on_selection_changed)
        scene.definitionRequested.connect(self.composites.open_definition)
        self.scenes[name], self.views[name] = scene, view
        index = self.tabs.insertTab(index, view, graph_title(name))
        if block_of(name) is not None:
            self.tabs.setTabToolTip(index, f"The definition of {block_of(name)}: "
                                    "edits here apply to every use")
        else:  # a network's tab cannot be closed
            for side in (QTabBar.ButtonPosition.LeftSide, QTabBar.ButtonPosition.RightSide):
                self.tabs.tabBar().setTabButton(index, side, None)
        return view

    def _close_session(self) -> None:
        if self.session is None:
            return
        self.tabs.blockSignals(True)
        while self.tabs.count():
            widget = self.tabs.widget(0)
            self.tabs.removeTab(0)
            widget.deleteLater()
        self.tabs.blockSignals(False)
        for scene in self.scenes.values():
            scene.selectionChanged.disconnect(self._on_selection_changed)
            scene.close()
            scene.deleteLater()
        self.scenes.clear()
        self.views.clear()
        self.inspector.set_session(None)
        self.training_editor.set_session(None)
        self.problems.set_session(None)
        self.undo_group.removeStack(self.session.undo_stack)
        self.session.close()
        self.session.deleteLater()
        self.session = None

    def display_name(self) -> str:
        if self.path:
            return Path(self.path).name
        name = self.session.document.name if self.session else "Untitled"
        return f"{name} (preset)" if self.template else name

    def update_title(self) -> None:
        self.setWindowTitle(f"{self.display_name()}[*] — NetCanvas")
        self.setWindowModified(self.session is not None
                               and (not self.session.undo_stack.isClean() or self.trained_unsaved))

    # ---- current canvas --------------------------------------------------------------------

    def current_network(self) -> str | None:
        view = self.tabs.currentWidget()
        return view.editor_scene.network_name if isinstance(view, EditorView) else None

    def current_scene(self) -> EditorScene | None:
        return self.scenes.get(self.current_network())

    def current_view(self) -> EditorView | None:
        return self.views.get(self.current_network())

    def _on_tab_changed(self, index: int) -> None:
        self._on_selection_changed()

    @Slot()
    def _on_selection_changed(self) -> None:
        scene = self.current_scene()
        ids = scene.selected_node_ids() if scene else []
        node_id = ids[0] if len(ids) == 1 else None
        self.inspector.show_node(scene.network_name if scene else None, node_id, len(ids))
        self.composites.selection_changed()
        if node_id is not None and block_of(scene.network_name) is None:
            # feature maps follow the selection, even mid-run (a network's nodes only)
            self.run_control.node_selected(node_id, scene.net.nodes[node_id].block)
        self.update_status()

    def update_status(self) -> None:
        """Selection on the left; the model's totals and problem count on the right."""
        scene = self.current_scene()
        if scene is None or self.session is None:
            self.selection_label.setText("")
            self.totals_label.setText("")
            return
        ids, edges = scene.selected_node_ids(), scene.selected_edges()
        net = scene.net
        if len(ids) == 1 and not edges:
            text = f"Selected: {ids[0]} ({net.nodes[ids[0]].block})"
        elif ids or edges:
            text = f"Selected: {len(ids)} blocks, {len(edges)} wires"
        else:
            text = f"{len(net.nodes)} blocks, {len(net.edges)} wires"
        self.selection_label.setText(text)
        params, macs = self.session.totals()
        errors, warnings = self.problems.problem_count()
        state = f"✖ {plural(errors, 'error')}" if errors else "✔ shapes OK"
        if warnings:
            state += f", ▲ {plural(warnings, 'warning')}"
        self.totals_label.setText(f"Parameters: {params:,}   Multiply-adds: {fmt_count(macs)}"
                                  f"   {state}")

    # ---- edit commands ------------------------------------------------------------------------

    def delete_selection(self) -> bool:
        scene = self.current_scene()
        if scene is None:
            return False
        return self.session.remove(scene.network_name, scene.selected_node_ids(),
                                   scene.selected_edges())

    def copy_selection(self) -> bool:
        scene = self.current_scene()
        ids = scene.selected_node_ids() if scene else []
        if ids:
            doc = self.session.document
            clipboard.copy_to_clipboard(clipboard.snapshot(scene.net, ids, doc))
        return bool(ids)

    def cut_selection(self) -> bool:
        scene = self.current_scene()
        if scene is None or not self.copy_selection():
            return False
        return self.session.remove(scene.network_name, scene.selected_node_ids(),
                                   scene.selected_edges(), text="Cut")

    def paste(self, payload: dict | None = None) -> list[str]:
        """Paste at the cursor over the canvas, else beside the originals if they are in
        view, else in the middle of the view."""
        scene, view = self.current_scene(), self.current_view()
        payload = payload or clipboard.clipboard_payload()
        if scene is None or payload is None:
            return []
        left, top = clipboard.bounds(payload)
        offset = PASTE_OFFSET
        cursor = view.mapFromGlobal(view.cursor().pos())
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        if view.underMouse() and view.viewport().rect().contains(cursor):
            x, y = to_doc(view.mapToScene(cursor))
            offset = (x - left, y - top)
        elif not visible.contains(to_scene((left + offset[0], top + offset[1]))):
            x, y = to_doc(visible.center())
            offset = (x - left, y - top)
        ids = self.session.paste(scene.network_name, payload, offset)
        scene.select_nodes(ids)
        return ids

    def duplicate_selection(self) -> list[str]:
        scene = self.current_scene()
        ids = scene.selected_node_ids() if scene else []
        if not ids:
            return []
        payload = clipboard.snapshot(scene.net, ids, self.session.document)
        new = self.session.paste(scene.network_name, payload,
                                 PASTE_OFFSET, text="Duplicate")
        scene.select_nodes(new)
        return new

    def select_all(self) -> None:
        scene = self.current_scene()
        if scene is not None:
            for item in scene.nodes.values():
                item.setSelected(True)

    def auto_layout(self) -> bool:
        scene = self.current_scene()
        if scene is None:
            return False
        positions = auto_layout(scene.net, scene.height_of)
        changed = self.session.move(scene.network_name, positions, text="Auto-layout")
        if changed:
            scene.update_scene_rect()
            self.current_view().frame_all()
        return changed

    def add_block_in_view(self, block: str) -> str | None:
        """Palette double-click: add at the centre of the visible canvas."""
        view = self.current_view()
        if view is None:
            return None
        centre = view.mapToScene(view.viewport().rect().center())
        return view.editor_scene.add_block_at(block, QPointF(centre))

    def focus_node(self, network: str, node_id: str) -> None:
        """Problems list click: show the tab (a definition's opens), select the node and
        bring it into view."""
        if block_of(network) is not None:
            self.composites.open_definition(block_of(network))
        if network not in self.views:
            return
        self.tabs.setCurrentWidget(self.views[network])
        scene = self.scenes[network]
        scene.select_nodes([node_id])
        if node_id in scene.nodes:
            self.views[network].centerOn(scene.nodes[node_id])

    # ---- view commands -----------------------------------------------------------------------

    def frame_all(self) -> None:
        if self.current_view():
            self.current_view().frame_all()

    def frame_all_tabs(self) -> None:
        """The opening view of every tab (legible, starting at the inputs)."""
        for view in self.views.values():
            view.frame_readable()

    def frame_selection(self) -> None:
        if self.current_view():
            self.current_view().frame_selection()

    def zoom(self, factor: float) -> None:
        if self.current_view():
            self.current_view().zoom_by(factor)

    def set_minimap(self, on: bool) -> None:
        for view in self.views.values():
            view.minimap.set_enabled(on)

    def set_snap(self, on: bool) -> None:
        for scene in self.scenes.values():
            scene.snap_enabled = on

    # ---- training hook (called by RunControl) --------------------------------------------

    @Slot(bool)
    def lock_editing(self, locked: bool) -> None:
        """Lock editing and undo while a run is in progress (Meshroom's lockAtThisIndex)."""
        if self.session is not None:
            self.session.set_locked(locked)
            self.undo_group.setActiveStack(None if locked else self.session.undo_stack)
        for view in self.views.values():
            view.setInteractive(not locked)

    # ---- settings, close and drops -------------------------------------------------------------

    def restore_settings(self) -> None:
        if not self.persist:
            return
        s = settings.settings()
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        if isinstance(state, QByteArray | bytes):
            self._restored = self.restoreState(QByteArray(state))

    def save_settings(self) -> None:
        if not self.persist:
            return
        s = settings.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save_changes():
            event.ignore()
            return
        self.run_control.shutdown()
        self.tasks.wait(10_000)
        self.save_settings()
        self.autosave_timer.stop()
        self.autosaver.remove()
        self._close_session()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.toLocalFile().lower().endswith(FILE_SUFFIXES) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls()
                 if u.toLocalFile().lower().endswith(FILE_SUFFIXES)]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.files.open_paths(paths))
