"""A wire drawn as a horizontal bezier with its tensor shape in a pill at the middle.

The item knows the edge it draws and the two cards it joins; its label comes
from the latest check report. It paints nothing it could not recompute.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from engine.document import Edge
from gui import theme
from gui.editor.node_item import NodeItem
from gui.editor.text import fonts

LABEL_DETAIL = 0.5  # below this zoom the shape labels are not drawn


def wire_path(start: QPointF, end: QPointF,
              cards: Callable[[], list[QRectF]] | None = None) -> QPainterPath:
    """The S-curve every node editor uses: tangents leave and enter horizontally.

    A wire that runs backwards (to the start of the next row, say) is routed
    around instead: out to the right, along the gap between the rows, and in
    from the left, so it never hides behind the cards it joins; the lane along
    the gap is moved below any card (`cards`, asked only for such a wire) in its way.
    """
    if end.x() < start.x() - 20:
        return _wrap_around(start, end, cards() if cards else [])
    dx = max(40.0, (end.x() - start.x()) * 0.5)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
    return path


def _wrap_around(start: QPointF, end: QPointF, cards: list[QRectF],
                 reach: float = 28.0) -> QPainterPath:
    """Right, down (or up) to a free lane, left, then into `end`, rounded corners."""
    sx, sy, ex, ey = start.x(), start.y(), end.x(), end.y()
    x1, x2 = sx + reach, ex - reach
    mid = _free_lane((sy + ey) / 2 if abs(ey - sy) > 60 else max(sy, ey) + 90, x2, x1, cards)
    path = QPainterPath(start)
    for corner, after in (((x1, sy), (x1, mid)), ((x1, mid), (x2, mid)),
                          ((x2, mid), (x2, ey)), ((x2, ey), (ex, ey))):
        here = path.currentPosition()
        r = min(14.0, _dist(here, corner) / 2, _dist(corner, after) / 2)
        path.lineTo(_towards(QPointF(*corner), here, r))
        path.quadTo(QPointF(*corner), _towards(QPointF(*corner), QPointF(*after), r))
    path.lineTo(end)
    return path


def _free_lane(lane: float, left: float, right: float, cards: list[QRectF],
               clearance: float = 12.0) -> float:
    """`lane`, or the first height below the cards that the lane from left to right crosses."""
    for _ in range(len(cards) + 1):
        hits = [r for r in cards if r.right() > left and r.left() < right
                and r.top() - clearance < lane < r.bottom() + clearance]
        if not hits:
            return lane
        lane = max(r.bottom() for r in hits) + clearance + 4
    return lane


def _dist(a, b) -> float:
    a, b = QPointF(*a) if isinstance(a, tuple) else a, QPointF(*b) if isinstance(b, tuple) else b
    return ((a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2) ** 0.5


def _towards(corner: QPointF, other, r: float) -> QPointF:
    """The point `r` pixels from `corner` in the direction of `other`."""
    other = QPointF(*other) if isinstance(other, tuple) else other
    d = _dist(corner, other) or 1.0
    return corner + (other - corner) * (r / d)


class EdgeItem(QGraphicsItem):
    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.edge, self.source, self.target = edge, source, target
        self.label = ""
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self.setToolTip(str(edge))
        self.update_path()

    def set_label(self, text: str) -> None:
        if text != self.label:
            self.label = text
            self.update_path()
            self.setToolTip(f"{self.edge}<br>shape {text}" if text else str(self.edge))

    def update_path(self) -> None:
        self.prepareGeometryChange()
        start = self.source.port_pos(self.edge.src_port, True)
        end = self.target.port_pos(self.edge.dst_port, False)
        self._path = wire_path(start, end, self._cards)
        if self.label:
            fm = fonts()["mono_fm"]
            w, h = fm.horizontalAdvance(self.label) + 12, fm.height() + 4
            mid = self._path.pointAtPercent(0.5)
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
        else:
            self._label_rect = QRectF()
        self.update()

    def _cards(self) -> list[QRectF]:
        """Every card's rectangle on the canvas, for a wire routed around them."""
        nodes = getattr(self.scene(), "nodes", None)
        items = nodes.values() if nodes else (self.source, self.target)
        return [item.card_rect() for item in items]

    def boundingRect(self) -> QRectF:
        rect = self._path.boundingRect().adjusted(-4, -4, 4, 4)
        return rect.united(self._label_rect) if self.label else rect

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        path = stroker.createStroke(self._path)
        if self.label:
            path.addRect(self._label_rect)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod > 0.25)
        colour = theme.EDGE_SELECTED if self.isSelected() else theme.EDGE
        painter.setPen(QPen(colour, 2.6 if self.isSelected() else 2.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if self.label and lod >= LABEL_DETAIL:
            painter.setPen(QPen(colour if self.isSelected() else theme.CARD_BORDER, 1))
            painter.setBrush(theme.LABEL_BG)
            painter.drawRoundedRect(self._label_rect, 6, 6)
            painter.setFont(fonts()["mono"])
            painter.setPen(theme.SHAPE_TEXT)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)
