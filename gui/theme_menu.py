"""View ▸ Theme: System, Dark or Light, saved in the settings and applied at once.

"System" follows the desktop's colour scheme, also when it changes while the
program runs. The canvas repaints in the new colours straight away; plot panels
take the new background now and their text colours with the next document or start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu

from gui import theme
from gui.plots import style
from gui.settings import settings

if TYPE_CHECKING:
    from gui.main_window import MainWindow

LABELS = {"system": "&System", "dark": "&Dark", "light": "&Light"}


class ThemeMenu(QObject):
    """The View ▸ Theme submenu and what choosing in it does."""

    def __init__(self, window: MainWindow, view_menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.menu = view_menu.addMenu("&Theme")
        self.group = QActionGroup(self)
        self.actions: dict[str, QAction] = {}
        chosen = theme.saved_choice()
        for name in theme.THEMES:
            action = self.menu.addAction(LABELS[name])
            action.setCheckable(True)
            action.setChecked(name == chosen)
            action.triggered.connect(lambda checked=False, n=name: self.choose(n))
            self.group.addAction(action)
            self.actions[name] = action
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)

    def choose(self, name: str) -> str:
        """Save `name` and apply it; returns the scheme now shown ("dark" or "light")."""
        settings().setValue("theme", name)
        self.actions[name].setChecked(True)
        return self._apply(name)

    def _system_changed(self, *_args: object) -> None:
        if theme.saved_choice() == "system":
            self._apply("system")

    def _apply(self, name: str) -> str:
        scheme = theme.apply_theme(QApplication.instance(), name)
        for scene in self.window.scenes.values():
            for item in scene.items():
                item.update()  # cached cards repaint in the new colours
        for view in self.window.views.values():
            view.viewport().update()
        for plot in self.window.findChildren(pg.GraphicsView):
            plot.setBackground(style.BACKGROUND)
        return scheme


__all__ = ["ThemeMenu"]
