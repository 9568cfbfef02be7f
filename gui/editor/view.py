"""The canvas widget: zoom at the cursor, pan, frame, rubber band, drops and quick-add.

Navigation is view state only and never touches the Document. Blocks dropped
from the palette and picked in the quick-add popup become `add_block_at`
calls on the scene; dropped files are handed to the window.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from gui import theme
from gui.editor.geometry import GRID_PIXELS
from gui.editor.minimap import Minimap
from gui.editor.my_blocks import composite_entries
from gui.editor.palette import BLOCK_MIME, QuickAddPopup
from gui.editor.scene import EditorScene

MIN_ZOOM, MAX_ZOOM = 0.05, 3.0
READABLE_ZOOM = 0.8  # the opening zoom when the whole graph would be too small to read
FIT_ZOOM = 0.55  # fitting everything is preferred down to this zoom
FILE_SUFFIXES = (".json", ".ncz")


class EditorView(QGraphicsView):
    filesDropped = Signal(list)  # local paths of dropped .json/.ncz files

    def __init__(self, scene: EditorScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.editor_scene = scene
        self._pan_from: QPoint | None = None
        self._space = False
        self.popup: QuickAddPopup | None = None
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.minimap = Minimap(self)

    # ---- zoom and framing ------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Scale by `factor`, keeping the scene point under `anchor` (or the centre) still."""
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        if math.isclose(factor, 1.0):
            return
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        before = self.mapToScene(anchor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        delta = self.mapToScene(anchor) - before
        self.translate(delta.x(), delta.y())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.minimap.refresh()

    def frame(self, rect: QRectF) -> None:
        """Fit `rect` with a margin, never zooming in beyond 1:1."""
        if rect.isNull():
            return
        rect = rect.adjusted(-60, -60, 60, 60)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.zoom_by(1.0 / self.zoom())
        elif self.zoom() < MIN_ZOOM:
            self.zoom_by(MIN_ZOOM / self.zoom())
        self.centerOn(rect.center())
        self.minimap.refresh()

    def graph_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.editor_scene.nodes.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def frame_all(self) -> None:
        self.frame(self.graph_rect())

    def frame_readable(self) -> None:
        """The opening view: everything if it fits legibly, else the inputs' end, legibly.

        A long chain framed whole would be too small to read, so the view starts
        at its left (where data enters) and the minimap shows the rest.
        """
        rect = self.graph_rect()
        self.frame(rect)
        if rect.isNull() or self.zoom() >= FIT_ZOOM:
            return
        self.zoom_by(READABLE_ZOOM / self.zoom())
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        left = rect.left() - 40
        cy = rect.center().y() if rect.height() + 80 <= visible.height() else (
            rect.top() - 40 + visible.height() / 2)
        self.centerOn(left + visible.width() / 2, cy)
        self.minimap.refresh()

    def frame_selection(self) -> None:
        """F: the selection if there is one, everything otherwise."""
        items = self.editor_scene.selectedItems()
        if not items:
            self.frame_all()
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        self.frame(rect)

    # ---- mouse and keys ----------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        self.zoom_by(math.pow(1.0015, delta), event.position().toPoint())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        panning = event.button() == Qt.MouseButton.MiddleButton or (
            self._space and event.button() == Qt.MouseButton.LeftButton)
        if panning:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            now = event.position().toPoint()
            self.pan_by(now - self._pan_from)
            self._pan_from = now
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, delta: QPoint) -> None:
        """Move the view by `delta` viewport pixels (content follows the hand)."""
        scale = self.zoom()
        centre = self.mapToScene(self.viewport().rect().center())
        self.centerOn(centre - QPointF(delta.x() / scale, delta.y() / scale))
        self.minimap.refresh()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.itemAt(event.position().toPoint()) is None:
            self.open_quick_add(event.position().toPoint())
            return
        super().mouseDoubleClickEvent(event)

    def event(self, event: QEvent) -> bool:
        # Tab would move the keyboard focus; on the canvas it opens the quick-add.
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab:
            self.open_quick_add(self.mapFromGlobal(self.cursor().pos()))
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() == Qt.Key.Key_Escape and self.editor_scene.wiring.active:
            self.editor_scene.wiring.cancel()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.minimap.refresh()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.minimap.place()

    # ---- quick add ---------------------------------------------------------------------

    def open_quick_add(self, view_pos: QPoint) -> QuickAddPopup:
        """A search popup at the cursor; the chosen block lands where it was opened."""
        if not self.viewport().rect().contains(view_pos):
            view_pos = self.viewport().rect().center()
        scene_pos = self.mapToScene(view_pos)
        composites = composite_entries(self.editor_scene.session.document)
        self.popup = QuickAddPopup(self, composites)
        self.popup.chosen.connect(lambda block: self.editor_scene.add_block_at(block, scene_pos))
        self.popup.show_at(self.viewport().mapToGlobal(view_pos))
        return self.popup

    # ---- drops ---------------------------------------------------------------------------

    def _accepts(self, event: QDropEvent) -> bool:
        mime = event.mimeData()
        if mime.hasFormat(BLOCK_MIME):
            return True
        return any(u.toLocalFile().lower().endswith(FILE_SUFFIXES) for u in mime.urls())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """A palette block is added at the drop point; files go to the window."""
        mime = event.mimeData()
        if mime.hasFormat(BLOCK_MIME):
            block = bytes(mime.data(BLOCK_MIME).data()).decode("utf-8")
            self.editor_scene.add_block_at(block, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
            self.setFocus()
            return
        paths = [u.toLocalFile() for u in mime.urls()
                 if u.toLocalFile().lower().endswith(FILE_SUFFIXES)]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)
            return
        event.ignore()

    # ---- background ------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, theme.BACKGROUND)
        step = GRID_PIXELS
        if step * self.zoom() < 7:
            step *= 5
            if step * self.zoom() < 7:
                return
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        minor = QPen(theme.GRID_MINOR, 0)
        major = QPen(theme.GRID_MAJOR, 0)
        x = left
        while x < rect.right():
            painter.setPen(major if round(x / step) % 5 == 0 else minor)
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            painter.setPen(major if round(y / step) % 5 == 0 else minor)
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            y += step
