"""Colours, fonts and the application palette: a dark and a light theme, decided here.

Items, the minimap and the palette all read these constants so that a block's
category has the same colour everywhere it appears.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

CATEGORY_COLORS: dict[str, str] = {
    "Input/Output": "#2f9e6e",
    "Core": "#3f74c9",
    "Activation": "#d0802c",
    "Convolution": "#8a55c9",
    "Normalization": "#2a9bb0",
    "Recurrent": "#c4455f",
    "Sequence": "#a89a24",
    "Attention": "#d0568c",
    "Graph": "#5aa64a",
    "Merge": "#6f7785",
    "My blocks": "#5e60ce",  # composites (issue 15): drawn as a stack of cards
}
FALLBACK_CATEGORY_COLOR = "#6b6b6b"

# The named colours of each theme; `use()` puts one set into this module's globals, which
# every item reads when it paints (theme.ERROR, theme.BACKGROUND, ...).
SCHEMES: dict[str, dict[str, str]] = {
    "dark": {
        "BACKGROUND": "#1b1d21", "GRID_MINOR": "#23262b", "GRID_MAJOR": "#2c3036",
        "CARD_BODY": "#2a2d33", "CARD_BORDER": "#3a3e46", "ERROR_BODY": "#36292c",
        "CARD_SELECTED": "#5aa2ff", "TEXT": "#e8eaed", "TEXT_DIM": "#9aa0a8",
        "SHAPE_TEXT": "#9fd2ff", "ERROR": "#f0524a", "WARNING": "#e3a82b", "EDGE": "#7d8694",
        "EDGE_SELECTED": "#5aa2ff", "LABEL_BG": "#1f2226", "ACCEPT": "#4cc38a",
        "REFUSE": "#f0524a", "PORT_FILL": "#c9ced6", "PORT_EMPTY": "#4a4f58",
        "MINIMAP": "#e114161a",  # #AARRGGBB: the overview floats over the canvas, nearly opaque
    },
    "light": {
        "BACKGROUND": "#f4f5f7", "GRID_MINOR": "#e8eaee", "GRID_MAJOR": "#d9dce2",
        "CARD_BODY": "#ffffff", "CARD_BORDER": "#c3c8d0", "ERROR_BODY": "#fdecec",
        "CARD_SELECTED": "#1f6fd1", "TEXT": "#1d2025", "TEXT_DIM": "#5f6670",
        "SHAPE_TEXT": "#1d5fa8", "ERROR": "#c9302a", "WARNING": "#a86d00", "EDGE": "#7a8290",
        "EDGE_SELECTED": "#1f6fd1", "LABEL_BG": "#ffffff", "ACCEPT": "#1d8a57",
        "REFUSE": "#c9302a", "PORT_FILL": "#5b6470", "PORT_EMPTY": "#c3c8d0",
        "MINIMAP": "#e6ffffff",
    },
}
THEMES = ("system", "dark", "light")  # what View ▸ Theme offers; saved as the "theme" setting
current = "dark"

BACKGROUND = QColor(SCHEMES["dark"]["BACKGROUND"])
GRID_MINOR = QColor(SCHEMES["dark"]["GRID_MINOR"])
GRID_MAJOR = QColor(SCHEMES["dark"]["GRID_MAJOR"])
CARD_BODY = QColor(SCHEMES["dark"]["CARD_BODY"])
CARD_BORDER = QColor(SCHEMES["dark"]["CARD_BORDER"])
ERROR_BODY = QColor(SCHEMES["dark"]["ERROR_BODY"])
CARD_SELECTED = QColor(SCHEMES["dark"]["CARD_SELECTED"])
TEXT = QColor(SCHEMES["dark"]["TEXT"])
TEXT_DIM = QColor(SCHEMES["dark"]["TEXT_DIM"])
SHAPE_TEXT = QColor(SCHEMES["dark"]["SHAPE_TEXT"])
ERROR = QColor(SCHEMES["dark"]["ERROR"])
WARNING = QColor(SCHEMES["dark"]["WARNING"])
EDGE = QColor(SCHEMES["dark"]["EDGE"])
EDGE_SELECTED = QColor(SCHEMES["dark"]["EDGE_SELECTED"])
LABEL_BG = QColor(SCHEMES["dark"]["LABEL_BG"])
ACCEPT = QColor(SCHEMES["dark"]["ACCEPT"])
REFUSE = QColor(SCHEMES["dark"]["REFUSE"])
PORT_FILL = QColor(SCHEMES["dark"]["PORT_FILL"])
PORT_EMPTY = QColor(SCHEMES["dark"]["PORT_EMPTY"])
MINIMAP = QColor(SCHEMES["dark"]["MINIMAP"])

FONT_FAMILY = "DejaVu Sans"


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, FALLBACK_CATEGORY_COLOR))


def font(point_size: float, bold: bool = False, mono: bool = False) -> QFont:
    """A font of the theme; shared so text measurement and painting agree."""
    f = QFont("DejaVu Sans Mono" if mono else FONT_FAMILY)
    f.setPointSizeF(point_size)
    f.setBold(bold)
    f.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    return f


def system_scheme() -> str:
    """"dark" or "light", as the desktop is set (Qt 6.5's colour scheme; dark if unknown)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    scheme = QGuiApplication.styleHints().colorScheme()
    return "light" if scheme == Qt.ColorScheme.Light else "dark"


def saved_choice() -> str:
    from gui.settings import settings

    value = str(settings().value("theme", "system"))
    return value if value in THEMES else "system"


def use(scheme: str) -> None:
    """Make `scheme`'s colours the module's (and the plots'): painting reads them from here."""
    global current
    current = scheme
    for name, value in SCHEMES[scheme].items():
        globals()[name].setRgba(QColor(value).rgba())  # in place: holders see the change
    from gui.plots import style

    style.use(scheme)


def apply_theme(app: QApplication, choice: str | None = None) -> str:
    """Fusion with the chosen palette (None: the saved choice; "system" follows the desktop).

    Dark is the default, like the node editors people know (Blender, ComfyUI). Returns the
    scheme applied.
    """
    choice = choice or saved_choice()
    scheme = system_scheme() if choice == "system" else choice
    use(scheme)
    app.setStyle("Fusion")
    app.setPalette(_palette(PALETTES[scheme]))
    app.setFont(font(9.5))
    app.setStyleSheet(STYLE_SHEETS[scheme])
    return scheme


# role -> colour of the application palette, per scheme
PALETTES = {
    "dark": {"Window": "#25282d", "WindowText": "#e1e4e8", "Base": "#1e2024",
             "AlternateBase": "#2a2d32", "ToolTipBase": "#2f3338", "ToolTipText": "#e1e4e8",
             "Text": "#e1e4e8", "Button": "#2e3238", "ButtonText": "#e1e4e8",
             "BrightText": "#ff6b6b", "Highlight": "#3d6fb4", "HighlightedText": "#ffffff",
             "Link": "#6cb0ff", "PlaceholderText": "#7b818a", "disabled": "#6c717a"},
    "light": {"Window": "#eceef1", "WindowText": "#1d2025", "Base": "#ffffff",
              "AlternateBase": "#f3f4f6", "ToolTipBase": "#ffffff", "ToolTipText": "#1d2025",
              "Text": "#1d2025", "Button": "#e3e6ea", "ButtonText": "#1d2025",
              "BrightText": "#c9302a", "Highlight": "#2f6fc4", "HighlightedText": "#ffffff",
              "Link": "#1f6fd1", "PlaceholderText": "#8a9099", "disabled": "#a0a6ae"},
}


def _palette(colors: dict[str, str]) -> QPalette:
    pal = QPalette()
    for role, value in colors.items():
        if role != "disabled":
            pal.setColor(getattr(QPalette.ColorRole, role), QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(colors["disabled"]))
    return pal


_SHEET = """
QDockWidget::title {{ background: {title}; padding: 5px 8px; }}
QDockWidget {{ font-weight: normal; }}
QTabBar::tab {{ background: {tab}; color: {tab_text}; padding: 5px 14px; border: none; }}
QTabBar::tab:selected {{ background: {tab_on}; color: {tab_on_text}; border-top: 2px solid {accent}; }}
QLineEdit[invalid="true"] {{ border: 1px solid {error}; }}
QToolTip {{ border: 1px solid {border}; padding: 4px; }}
QStatusBar QLabel {{ padding: 0 6px; }}
"""
STYLE_SHEETS = {
    "dark": _SHEET.format(title="#2b2f35", tab="#2a2d32", tab_text="#b9bec6", tab_on="#1b1d21",
                          tab_on_text="#ffffff", accent="#5aa2ff", error="#f0524a",
                          border="#4a4f58"),
    "light": _SHEET.format(title="#dfe2e7", tab="#e3e6ea", tab_text="#4a515b", tab_on="#ffffff",
                           tab_on_text="#1d2025", accent="#1f6fd1", error="#c9302a",
                           border="#c3c8d0"),
}
