"""The window's own actions and the menu bar: File, Edit, View, Run, Help.

Actions that only make sense on the canvas (Delete, Select All, F) are bound
to the canvas area so they never steal keys from the inspector's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from gui.main_window import MainWindow

Key = QKeySequence.StandardKey


def _action(window: MainWindow, text: str, slot: Callable | None = None, shortcut=None,
            tip: str = "", canvas_only: bool = False, checkable: bool = False) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(lambda checked=False: slot())
    if canvas_only:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.tabs.addAction(action)
    return action


def build_actions(w: MainWindow) -> SimpleNamespace:
    """The window's own actions: quit, editing, view. File, export and run commands
    own theirs (`gui/files.py`, `gui/exporting.py`, `gui/run_control.py`)."""
    a = SimpleNamespace()
    a.quit = _action(w, "&Quit", w.close, Key.Quit, "Close NetCanvas")
    a.undo = w.undo_group.createUndoAction(w, "&Undo")
    a.undo.setShortcuts([QKeySequence(Key.Undo)])
    a.redo = w.undo_group.createRedoAction(w, "&Redo")
    a.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    a.cut = _action(w, "Cu&t", w.cut_selection, Key.Cut)
    a.copy = _action(w, "&Copy", w.copy_selection, Key.Copy)
    a.paste = _action(w, "&Paste", w.paste, Key.Paste)
    a.duplicate = _action(w, "&Duplicate", w.duplicate_selection, "Ctrl+D")
    a.delete = _action(w, "De&lete", w.delete_selection, [Key.Delete, "Backspace"],
                       "Delete the selected blocks and wires", canvas_only=True)
    a.select_all = _action(w, "Select &All", w.select_all, Key.SelectAll, canvas_only=True)
    a.layout = _action(w, "Auto-&layout", w.auto_layout, "Ctrl+L",
                       "Arrange left to right by depth")
    a.frame_all = _action(w, "Frame &All", w.frame_all, "Home", canvas_only=True)
    a.frame_sel = _action(w, "&Frame Selection", w.frame_selection, "F", canvas_only=True)
    a.zoom_in = _action(w, "Zoom &In", lambda: w.zoom(1.25), Key.ZoomIn)
    a.zoom_out = _action(w, "Zoom &Out", lambda: w.zoom(0.8), Key.ZoomOut)
    a.minimap = _action(w, "&Minimap", None, "M", "Overview of large graphs",
                        canvas_only=True, checkable=True)
    a.minimap.setChecked(True)
    a.minimap.toggled.connect(w.set_minimap)
    a.snap = _action(w, "&Snap to Grid", None, None, "Round positions to the grid",
                     checkable=True)
    a.snap.setChecked(True)
    a.snap.toggled.connect(w.set_snap)
    return a


def build_menus(w: MainWindow, a: SimpleNamespace) -> SimpleNamespace:
    """File, Edit, View, Run and Help; the commands composed into the window fill theirs."""
    bar = w.menuBar()
    m = SimpleNamespace()
    m.file = bar.addMenu("&File")  # files, exports and Quit are added as the window composes
    m.edit = bar.addMenu("&Edit")
    m.edit.addActions([a.undo, a.redo])
    m.edit.addSeparator()
    m.edit.addActions([a.cut, a.copy, a.paste, a.duplicate, a.delete])
    m.edit.addSeparator()
    m.edit.addActions([a.select_all, a.layout])
    m.view = bar.addMenu("&View")
    m.view.addActions([a.frame_all, a.frame_sel, a.zoom_in, a.zoom_out])
    m.view.addSeparator()
    m.view.addActions([a.minimap, a.snap])
    m.view.addSeparator()
    m.docks = m.view.addMenu("&Panels")
    for dock in w.docks.values():
        m.docks.addAction(dock.toggleViewAction())
    m.run = bar.addMenu("&Run")
    m.help = bar.addMenu("&Help")
    return m
