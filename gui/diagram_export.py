"""File ▸ Export ▸ Diagram as PNG / SVG: the canvas of one network as a picture.

The scene is drawn as it is on screen (cards, wires, shapes on the wires) without
the grid, the selection or the minimap, onto a QImage at twice the scene's
resolution for PNG, or through QSvgGenerator for SVG (vector: text stays text).
Item caches are switched off while drawing, so SVG gets vectors, not bitmaps.
The file is written beside its target and moved into place (an atomic save).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from gui import theme

MARGIN = 24.0
PNG_SCALE = 2.0


def export_diagram(scene: QGraphicsScene, path: str, title: str = "") -> QRectF:
    """Write `scene` to `path` (.png or .svg by suffix); returns the scene area drawn."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: a diagram is written as .png or .svg")
    source = scene.itemsBoundingRect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    fd, temp = tempfile.mkstemp(suffix=suffix, dir=str(Path(path).resolve().parent))
    os.close(fd)
    try:
        with _plain(scene):
            (_png if suffix == ".png" else _svg)(scene, source, temp, title)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return source


def _png(scene: QGraphicsScene, source: QRectF, path: str, title: str) -> None:
    size = QSize(int(source.width() * PNG_SCALE), int(source.height() * PNG_SCALE))
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(theme.BACKGROUND)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
    painter.end()
    if not image.save(path, "PNG"):
        raise OSError(f"{path}: the PNG could not be written")


def _svg(scene: QGraphicsScene, source: QRectF, path: str, title: str) -> None:
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(source.size().toSize())
    generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
    generator.setTitle(title or "NetCanvas diagram")
    painter = QPainter(generator)
    painter.fillRect(QRectF(0, 0, source.width(), source.height()), theme.BACKGROUND)
    scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
    painter.end()


class _plain:
    """No selection and no item caches while drawing (the view draws the grid, so the scene
    has none); both are restored after."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self.scene = scene

    def __enter__(self) -> None:
        self.selected = self.scene.selectedItems()
        self.scene.clearSelection()
        self.caches = [(item, item.cacheMode()) for item in self.scene.items()]
        for item, _ in self.caches:
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)

    def __exit__(self, *exc: object) -> None:
        for item, mode in self.caches:
            item.setCacheMode(mode)
        for item in self.selected:
            item.setSelected(True)


__all__ = ["export_diagram"]
