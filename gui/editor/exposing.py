"""Exposing an inner parameter of a composite, from the inspector of its definition tab.

Right-click a parameter's name: *Expose on ResidualBlock* makes it a parameter of
every use (its current value the default), *Stop Exposing* gives it back to the
inner node. Both are undo steps (`EditorSession.expose` / `unexpose`). While
exposed, the inner editor is read-only: each use sets the value.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QMenu, QWidget

from gui import theme
from gui.editor.session import EditorSession


def mark_row(session: EditorSession, block: str, node_id: str, name: str, label: QLabel,
             editor: QWidget) -> None:
    """Style one inspector row of an inner node and give its name the expose menu."""
    exposed = session.exposed_as(block, node_id, name)
    if exposed is not None:
        label.setText(f"{name} ⇡")
        label.setStyleSheet(f"color: {theme.SHAPE_TEXT.name()};")
        label.setToolTip(f"Exposed on {block} as “{exposed}”: each use sets it "
                         "(right-click to stop)")
        editor.setEnabled(False)
        editor.setToolTip(f"Set on each use of {block} (its parameter “{exposed}”)")
    else:
        label.setToolTip(f"{label.toolTip()}<br><i>Right-click to expose it on {block}</i>")
    label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    label.customContextMenuRequested.connect(
        lambda pos: param_menu(session, block, node_id, name, label.window()).popup(
            label.mapToGlobal(QPoint(pos))))


def param_menu(session: EditorSession, block: str, node_id: str, name: str,
               parent: QWidget) -> QMenu:
    """Expose on BLOCK, or Stop Exposing, for `node_id.name`. Owned by `parent` (the
    window, not the row: exposing rebuilds the inspector's rows while the menu is still
    emitting); it deletes itself once closed."""
    menu = QMenu(parent)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if session.exposed_as(block, node_id, name) is None:
        action = menu.addAction(f"Expose on {block}")
        action.setStatusTip(f"Make {name} a parameter of every use of {block}")
        action.triggered.connect(lambda: session.expose(block, node_id, name))
    else:
        action = menu.addAction("Stop Exposing")
        action.setStatusTip(f"{node_id} sets {name} itself again")
        action.triggered.connect(lambda: session.unexpose(block, node_id, name))
    return menu
