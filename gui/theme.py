"""Colours, fonts and the application palette: one dark theme, decided in one place.

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
}
FALLBACK_CATEGORY_COLOR = "#6b6b6b"

BACKGROUND = QColor("#1b1d21")
GRID_MINOR = QColor("#23262b")
GRID_MAJOR = QColor("#2c3036")
CARD_BODY = QColor("#2a2d33")
CARD_BORDER = QColor("#3a3e46")
ERROR_BODY = QColor("#36292c")
CARD_SELECTED = QColor("#5aa2ff")
TEXT = QColor("#e8eaed")
TEXT_DIM = QColor("#9aa0a8")
SHAPE_TEXT = QColor("#9fd2ff")
ERROR = QColor("#f0524a")
WARNING = QColor("#e3a82b")
EDGE = QColor("#7d8694")
EDGE_SELECTED = QColor("#5aa2ff")
LABEL_BG = QColor("#1f2226")
ACCEPT = QColor("#4cc38a")
REFUSE = QColor("#f0524a")
PORT_FILL = QColor("#c9ced6")
PORT_EMPTY = QColor("#4a4f58")

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


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette, like the node editors people know (Blender, ComfyUI)."""
    app.setStyle("Fusion")
    pal = QPalette()
    window, base, text = QColor("#25282d"), QColor("#1e2024"), QColor("#e1e4e8")
    pal.setColor(QPalette.ColorRole.Window, window)
    pal.setColor(QPalette.ColorRole.WindowText, text)
    pal.setColor(QPalette.ColorRole.Base, base)
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#2a2d32"))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor("#2f3338"))
    pal.setColor(QPalette.ColorRole.ToolTipText, text)
    pal.setColor(QPalette.ColorRole.Text, text)
    pal.setColor(QPalette.ColorRole.Button, QColor("#2e3238"))
    pal.setColor(QPalette.ColorRole.ButtonText, text)
    pal.setColor(QPalette.ColorRole.BrightText, QColor("#ff6b6b"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#3d6fb4"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.Link, QColor("#6cb0ff"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#7b818a"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6c717a"))
    app.setPalette(pal)
    app.setFont(font(9.5))
    app.setStyleSheet(STYLE_SHEET)


STYLE_SHEET = """
QDockWidget::title { background: #2b2f35; padding: 5px 8px; }
QDockWidget { font-weight: normal; }
QTabBar::tab { background: #2a2d32; color: #b9bec6; padding: 5px 14px; border: none; }
QTabBar::tab:selected { background: #1b1d21; color: #ffffff; border-top: 2px solid #5aa2ff; }
QLineEdit[invalid="true"] { border: 1px solid #f0524a; }
QToolTip { border: 1px solid #4a4f58; padding: 4px; }
QStatusBar QLabel { padding: 0 6px; }
"""
