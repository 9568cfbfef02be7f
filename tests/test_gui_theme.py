"""View ▸ Theme: System, Dark, Light, saved in the settings (issue 12, rough edge 13)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from gui import theme
from gui.plots import style


@pytest.fixture(autouse=True)
def _back_to_dark():
    yield
    theme.apply_theme(QApplication.instance(), "dark")


def _window_lightness() -> int:
    return QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness()


def test_light_theme_applies_at_once_and_is_remembered(window, lenet):
    assert window.open_path(str(lenet))
    window.theme_menu.actions["light"].trigger()
    assert theme.current == "light" and _window_lightness() > 200
    assert theme.BACKGROUND.lightness() > 200 and theme.TEXT.lightness() < 60
    assert style.BACKGROUND == style.SCHEMES["light"][0]
    image = window.current_view().viewport().grab().toImage()
    assert image.pixelColor(2, 2).lightness() > 200  # the canvas repainted light
    assert theme.saved_choice() == "light"
    assert theme.apply_theme(QApplication.instance()) == "light"  # the next start
    window.theme_menu.actions["dark"].trigger()
    assert theme.current == "dark" and _window_lightness() < 80


def test_system_follows_the_desktop(window, monkeypatch):
    monkeypatch.setattr(theme, "system_scheme", lambda: "light")
    assert window.theme_menu.choose("system") == "light"
    monkeypatch.setattr(theme, "system_scheme", lambda: "dark")
    window.theme_menu._system_changed()
    assert theme.current == "dark"
    assert window.theme_menu.actions["system"].isChecked()


def test_the_minimap_follows_the_theme(window, lenet):
    """The overview's background was a fixed dark grey, a dark box on the light canvas."""
    assert window.open_path(str(lenet))
    view = window.current_view()
    view.zoom_by(4)  # the graph no longer fits: the minimap shows
    assert view.minimap.isVisible()
    for scheme, light in (("light", True), ("dark", False)):
        window.theme_menu.actions[scheme].trigger()
        pixel = view.minimap.grab().toImage().pixelColor(3, view.minimap.height() // 2)
        assert (pixel.lightness() > 200) is light, (scheme, pixel.name())
