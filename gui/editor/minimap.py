"""A small overview in the canvas corner for graphs larger than the window.

It paints one rectangle per card straight from the scene's item map (no
second QGraphicsView rendering every card), plus the visible area; clicking
or dragging in it moves the view there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from gui import theme

if TYPE_CHECKING:
    from gui.editor.view import EditorView

SIZE = (180, 104)
MARGIN = 12


class Minimap(QWidget):
    def __init__(self, view: EditorView) -> None:
        super().__init__(view)
        self.view = view
        self.enabled = True
        self._world = QRectF()
        self.resize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self.hide()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self.refresh()

    def place(self) -> None:
        vp = self.view.viewport().geometry()
        self.move(vp.right() - SIZE[0] - MARGIN, vp.bottom() - SIZE[1] - MARGIN)
        self.refresh()

    def refresh(self) -> None:
        """Show only when enabled and the graph does not fit the visible area."""
        nodes = self.view.editor_scene.nodes.values()
        world = QRectF()
        for item in nodes:
            world = world.united(item.sceneBoundingRect())
        self._world = world
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        needed = self.enabled and not world.isNull() and not visible.contains(world)
        if needed != self.isVisible():
            self.setVisible(needed)
        if needed:
            self.update()

    def _mapping(self) -> tuple[float, QPointF]:
        world = self._world.adjusted(-40, -40, 40, 40)
        scale = min((SIZE[0] - 8) / max(world.width(), 1), (SIZE[1] - 8) / max(world.height(), 1))
        offset = QPointF((SIZE[0] - world.width() * scale) / 2 - world.left() * scale,
                         (SIZE[1] - world.height() * scale) / 2 - world.top() * scale)
        return scale, offset

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.CARD_BORDER, 1))
        painter.setBrush(theme.MINIMAP)
        painter.drawRoundedRect(QRectF(0.5, 0.5, SIZE[0] - 1, SIZE[1] - 1), 6, 6)
        scale, offset = self._mapping()
        painter.setPen(Qt.PenStyle.NoPen)
        for item in self.view.editor_scene.nodes.values():
            r = item.sceneBoundingRect()
            painter.setBrush(theme.ERROR if item.report and item.report.errors
                             else theme.category_color(item.category))
            painter.drawRect(QRectF(r.left() * scale + offset.x(), r.top() * scale + offset.y(),
                                    max(2.0, r.width() * scale), max(2.0, r.height() * scale)))
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        visible_fill = QColor(theme.CARD_SELECTED)
        visible_fill.setAlpha(40)
        painter.setBrush(visible_fill)
        painter.setPen(QPen(theme.CARD_SELECTED, 1.2))
        painter.drawRect(QRectF(visible.left() * scale + offset.x(),
                                visible.top() * scale + offset.y(),
                                visible.width() * scale, visible.height() * scale))

    def _go(self, event: QMouseEvent) -> None:
        scale, offset = self._mapping()
        p = event.position()
        self.view.centerOn(QPointF((p.x() - offset.x()) / scale, (p.y() - offset.y()) / scale))
        self.refresh()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._go(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event)
