"""A node as a card: category-coloured header, key parameters, named ports, shapes, errors.

The card is given what it draws: the Document's `Node` record, which of its
ports are wired, and the latest `NodeReport` (the scene hands over all three
as they change); it holds no parameter of its own and never reads the
network. Gestures (moving, wiring) are handed to the scene, which turns them
into commands. Painting is cached in
device coordinates and drops to a plain block when zoomed far out, so a
500-node graph pans smoothly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from engine.blocks.base import EXTRA_MERGE_PORTS, fmt_shape
from engine.composites import is_composite
from engine.document import Node
from engine.shapes import NodeReport
from gui import theme
from gui.editor.geometry import CARD_WIDTH, HEADER, PAD, PORT_RADIUS, ROW, to_scene
from gui.editor.text import fmt_count, fmt_value, fonts, wrap_text

LOW_DETAIL = 0.42  # below this zoom a card is a coloured block without text
MAX_KEY_PARAMS = 3
MAX_MESSAGE_LINES = 4
MESSAGE_ROW = 14.0
MAX_FIXES = 2  # quick fixes shown on the card (the Problems panel lists them all)
STACK_STEP = 4.0  # px between a composite's card and the copies drawn behind it


class PortItem(QGraphicsItem):
    """A named port on a card's side: where wires start and end."""

    NORMAL, ACCEPT, REFUSE = 0, 1, 2

    def __init__(self, node: NodeItem, name: str, is_output: bool, ghost: bool = False) -> None:
        super().__init__(node)
        self.node_item, self.name, self.is_output, self.ghost = node, name, is_output, ghost
        self.connected = False
        self.state = PortItem.NORMAL
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)

    @property
    def address(self) -> str:
        return f"{self.node_item.node_id}.{self.name}"

    def boundingRect(self) -> QRectF:
        r = PORT_RADIUS + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def set_state(self, state: int) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOW_DETAIL:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = {PortItem.ACCEPT: theme.ACCEPT, PortItem.REFUSE: theme.REFUSE}.get(
            self.state, theme.category_color(self.node_item.category).lighter(135))
        r = PORT_RADIUS + (1.5 if self.state == PortItem.ACCEPT else 0)
        painter.setPen(QPen(colour, 1.6))
        fill = colour if self.connected or self.state == PortItem.ACCEPT else theme.CARD_BODY
        painter.setBrush(QBrush(fill))
        painter.drawEllipse(QPointF(0, 0), r, r)
        if self.state == PortItem.REFUSE:
            d = r * 0.55
            painter.drawLine(QPointF(-d, -d), QPointF(d, d))
            painter.drawLine(QPointF(-d, d), QPointF(d, -d))

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.scene().wiring.begin(self, event.scenePos())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.scene().wiring.move(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.scene().wiring.finish(event.scenePos())

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.setToolTip(self.node_item.port_tooltip(self))


class NodeItem(QGraphicsItem):
    """The card of one node: `set_wiring()` and `set_report()` give it what changed,
    `refresh()` redraws after the node's own record changed (a parameter)."""

    def __init__(self, node: Node, wired_inputs: Iterable[str] = (),
                 used_outputs: Iterable[str] = ()) -> None:
        super().__init__()
        self.node = node
        self.node_id = node.id
        self.wired_inputs, self.used_outputs = set(wired_inputs), set(used_outputs)
        self.spec = node.spec
        self.category = self.spec.category
        self.composite = is_composite(self.spec)
        self.report: NodeReport | None = None
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.height = HEADER + ROW + PAD
        self._lines: dict[str, Any] = {}
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.setPos(to_scene(node.pos))
        self.refresh()

    # ---- model -> card ---------------------------------------------------------

    def set_report(self, report: NodeReport | None) -> bool:
        """Show a new check result; True when the card was redrawn (it may have resized)."""
        if report is self.report:
            return False
        self.report = report
        self.refresh()
        return True

    def set_spec(self, spec: Any) -> None:
        """The block's declaration changed (a composite whose definition was edited)."""
        self.spec, self.category = spec, spec.category
        self.composite = is_composite(spec)
        self.refresh()

    def set_wiring(self, wired_inputs: set[str], used_outputs: set[str]) -> bool:
        """Which input and output ports carry a wire; True when the card was redrawn."""
        if (wired_inputs, used_outputs) == (self.wired_inputs, self.used_outputs):
            return False
        self.wired_inputs, self.used_outputs = set(wired_inputs), set(used_outputs)
        self.refresh()
        return True

    def refresh(self) -> None:
        """Recompute text, ports and size from the node and its report."""
        self.prepareGeometryChange()
        self._lines = self._compose()
        self._sync_ports()
        self.height = self._layout_height()
        self._place_ports()
        self.setToolTip(self._tooltip())
        self.update()

    def _compose(self) -> dict[str, Any]:
        node, report = self.node, self.report
        resolved = node.resolved_params()
        keys = [k for k in self._key_params() if k in resolved]
        shown = [k for i, k in enumerate(keys)
                 if i < 2 or resolved[k] != self.spec.param(k).default][:MAX_KEY_PARAMS]
        params = [(k, fmt_value(resolved[k])) for k in shown]
        shapes: list[tuple[str, str]] = []
        if report is not None:
            if self.spec.outputs:
                shapes = [(name, fmt_shape(s)) for name, s in report.outputs.items()]
            elif "in" in report.inputs:
                shapes = [("in", fmt_shape(report.inputs["in"]))]
        errors = list(report.errors) if report else []
        warnings = list(report.warnings) if report else []
        fm = fonts()["small_fm"]
        fixes = [fm.elidedText(f"→ Fix: {fix.description}", Qt.TextElideMode.ElideRight,
                               CARD_WIDTH - 20) for fix in (report.fixes if report else [])]
        repeat = resolved.get("repeat", 1) if self.composite else 1
        repeat = repeat if isinstance(repeat, int) else 1  # a bad file: the check says why
        return {"params": params, "shapes": shapes, "repeat": repeat,
                "block": self.spec.name + (f" ×{repeat}" if repeat > 1 else ""),
                "count": (f"{fmt_count(report.parameters)} params"
                          if report and report.parameters else ""),
                "errors": self._wrap(errors), "warnings": self._wrap(warnings, 2),
                "fixes": fixes[:MAX_FIXES]}

    def _key_params(self) -> list[str]:
        """A composite without declared key parameters shows its exposed ones."""
        if self.spec.key_params or not self.composite:
            return list(self.spec.key_params)
        return [p.name for p in self.spec.params if p.name != "repeat"]

    def _wrap(self, messages: list[str], limit: int = MAX_MESSAGE_LINES) -> list[str]:
        """Messages wrapped to the card's width as drawn; the tooltip has the full text."""
        fm = fonts()["small_fm"]
        width = CARD_WIDTH - 20 - fm.horizontalAdvance("✖ ")
        lines: list[str] = []
        for message in messages:
            lines += wrap_text(message, fm, width)
        if len(lines) > limit:
            lines = lines[:limit]
            lines[-1] = fm.elidedText(lines[-1] + " …", Qt.TextElideMode.ElideRight, width)
        return lines

    def _sync_ports(self) -> None:
        wired = self.wired_inputs
        names = self.spec.input_names(wired)
        ghost = None
        if self.spec.variadic and all(n in wired for n in names):
            ghost = next((n for n in EXTRA_MERGE_PORTS if n not in names), None)
        wanted_in = names + ([ghost] if ghost else [])
        self._sync_side(self.inputs, wanted_in, False, ghost)
        self._sync_side(self.outputs, self.spec.output_names(), True, None)
        for name, port in self.inputs.items():
            port.connected = name in wired
        for name, port in self.outputs.items():
            port.connected = name in self.used_outputs

    def _sync_side(self, ports: dict[str, PortItem], names: list[str], is_output: bool,
                   ghost: str | None) -> None:
        for name in [n for n in ports if n not in names]:
            port = ports.pop(name)
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        for name in names:
            if name not in ports:
                ports[name] = PortItem(self, name, is_output)
            ports[name].ghost = name == ghost
        ordered = {n: ports[n] for n in names}
        ports.clear()
        ports.update(ordered)

    @property
    def named_ports(self) -> bool:
        names = list(self.inputs) + list(self.outputs)
        return len(self.inputs) > 1 or len(self.outputs) > 1 or any(
            n not in ("in", "out") for n in names)

    def _port_rows(self) -> int:
        return max(len(self.inputs), len(self.outputs)) if self.named_ports else 0

    def _body_rows(self) -> int:
        return max(1, self._port_rows() + len(self._lines["params"]))

    def _footer_top(self) -> float:
        return HEADER + PAD / 2 + self._body_rows() * ROW + 2

    def _layout_height(self) -> float:
        lines = self._lines
        shape_rows = max(1, len(lines["shapes"]))
        messages = len(lines["errors"]) + len(lines["warnings"]) + len(lines["fixes"])
        extra = messages * MESSAGE_ROW + (4 if messages else 0)
        return self._footer_top() + shape_rows * ROW + extra + PAD

    @property
    def compact_height(self) -> float:
        """The card's height without its messages (what the person laid out around)."""
        return self._footer_top() + max(1, len(self._lines["shapes"])) * ROW + PAD

    def _place_ports(self) -> None:
        top = HEADER + PAD / 2 + ROW / 2
        for side, x in ((self.inputs, 0.0), (self.outputs, CARD_WIDTH)):
            for i, port in enumerate(side.values()):
                port.setPos(x, top + (i * ROW if self.named_ports else 0))

    # ---- geometry used by the scene --------------------------------------------

    def port_pos(self, name: str, is_output: bool) -> QPointF:
        """Scene position of a port (its centre), falling back to the card side."""
        side = self.outputs if is_output else self.inputs
        port = side.get(name)
        if port is not None:
            return port.scenePos()
        x = CARD_WIDTH if is_output else 0.0
        return self.mapToScene(QPointF(x, HEADER + PAD / 2 + ROW / 2))

    def card_rect(self) -> QRectF:
        """The card itself in scene coordinates (without the selection outline)."""
        return self.mapRectToScene(QRectF(0, 0, CARD_WIDTH, self.height))

    def _stacked(self) -> int:
        """How many copies are drawn behind the card: one for a composite, two when
        it is repeated, so a group reads as a stack of blocks."""
        if not self.composite:
            return 0
        return 2 if self._lines.get("repeat", 1) > 1 else 1

    def boundingRect(self) -> QRectF:
        grow = self._stacked() * STACK_STEP
        return QRectF(-4, -4, CARD_WIDTH + 8 + grow, self.height + 8 + grow)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, CARD_WIDTH, self.height), 7, 7)
        return path

    # ---- painting --------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, CARD_WIDTH, self.height)
        header_colour = theme.category_color(self.category)
        has_error = bool(self._lines["errors"])
        for i in range(self._stacked(), 0, -1):
            behind = rect.translated(i * STACK_STEP, i * STACK_STEP)
            painter.setPen(QPen(header_colour.darker(130), 1.0))
            painter.setBrush(theme.CARD_BODY)
            painter.drawRoundedRect(behind, 7, 7)
        card = QPainterPath()
        card.addRoundedRect(rect, 7, 7)
        painter.fillPath(card, theme.ERROR_BODY if has_error else theme.CARD_BODY)
        painter.save()
        painter.setClipPath(card)
        painter.fillRect(QRectF(0, 0, CARD_WIDTH, HEADER), header_colour.darker(115))
        painter.restore()
        if lod >= LOW_DETAIL:
            self._paint_text(painter)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.isSelected():  # outside the card, so an error border stays visible
            painter.setPen(QPen(theme.CARD_SELECTED, 2.0))
            painter.drawRoundedRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5), 9, 9)
        painter.setPen(QPen(theme.ERROR if has_error else theme.CARD_BORDER,
                            2.0 if has_error else 1.0))
        painter.drawRoundedRect(rect, 7, 7)

    def _paint_text(self, painter: QPainter) -> None:
        """Header: the node id in bold, the block name after it, each elided if long;
        a repeated composite's ×N last, never elided."""
        f = fonts()
        inset, gap = 10.0, 8.0
        repeat = self._lines["repeat"]
        badge = f"×{repeat}" if repeat > 1 else ""
        badge_w = f["title_fm"].horizontalAdvance(badge) + 4 if badge else 0.0
        room = CARD_WIDTH - 2 * inset - gap - badge_w
        id_w = f["title_fm"].horizontalAdvance(self.node_id)
        block_w = f["block_fm"].horizontalAdvance(self.spec.name)
        if id_w + block_w > room:  # the id comes first; the block name gets what is left
            id_w = min(id_w, room - 36)
            block_w = room - id_w
        painter.setPen(QColor("#ffffff"))
        painter.setFont(f["title"])
        title = f["title_fm"].elidedText(self.node_id, Qt.TextElideMode.ElideRight, id_w + 1)
        painter.drawText(QRectF(inset, 0, id_w + 1, HEADER), Qt.AlignmentFlag.AlignVCenter, title)
        right = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
        if badge:
            painter.drawText(QRectF(CARD_WIDTH - inset - badge_w, 0, badge_w, HEADER), right,
                             badge)
        painter.setPen(QColor(255, 255, 255, 175))
        painter.setFont(f["block"])
        block = f["block_fm"].elidedText(self.spec.name, Qt.TextElideMode.ElideRight,
                                         block_w + 1)
        painter.drawText(QRectF(CARD_WIDTH - inset - badge_w - block_w - 1, 0, block_w + 1,
                                HEADER), right, block)
        self._paint_ports_and_params(painter)
        self._paint_footer(painter)

    def _paint_ports_and_params(self, painter: QPainter) -> None:
        f = fonts()
        top = HEADER + PAD / 2
        painter.setFont(f["body"])
        if self.named_ports:
            for side, align, x in ((self.inputs, Qt.AlignmentFlag.AlignLeft, 12.0),
                                   (self.outputs, Qt.AlignmentFlag.AlignRight, 12.0)):
                for i, port in enumerate(side.values()):
                    painter.setPen(theme.TEXT_DIM if port.ghost else theme.TEXT)
                    rect = QRectF(x, top + i * ROW, CARD_WIDTH - 2 * x, ROW)
                    painter.drawText(rect, align | Qt.AlignmentFlag.AlignVCenter, port.name)
        y = top + self._port_rows() * ROW
        for name, value in self._lines["params"]:
            rect = QRectF(14, y, CARD_WIDTH - 28, ROW)
            painter.setPen(theme.TEXT_DIM)
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            painter.setPen(theme.TEXT)
            value = f["body_fm"].elidedText(value, Qt.TextElideMode.ElideRight, 70)
            painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             value)
            y += ROW

    def _paint_footer(self, painter: QPainter) -> None:
        f = fonts()
        y = self._footer_top()
        painter.setPen(QPen(theme.CARD_BORDER, 1))
        painter.drawLine(QPointF(1, y), QPointF(CARD_WIDTH - 1, y))
        painter.setFont(f["mono"])
        multi = len(self._lines["shapes"]) > 1
        shapes = self._lines["shapes"] or [("", "—")]
        for i, (name, text) in enumerate(shapes):
            rect = QRectF(10, y + i * ROW, CARD_WIDTH - 20, ROW)
            label = (f"{name} {text}" if multi else text)
            painter.setPen(theme.SHAPE_TEXT if self._lines["shapes"] else theme.TEXT_DIM)
            label = f["mono_fm"].elidedText(label, Qt.TextElideMode.ElideMiddle, 110)
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             label)
        if self._lines["count"]:
            painter.setFont(f["small"])
            painter.setPen(theme.TEXT_DIM)
            painter.drawText(QRectF(10, y, CARD_WIDTH - 20, ROW),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             self._lines["count"])
        y += max(1, len(self._lines["shapes"])) * ROW + 2
        painter.setFont(f["small"])
        for colour, key, mark in ((theme.ERROR, "errors", "✖ "), (theme.WARNING, "warnings", "▲ ")):
            painter.setPen(colour)
            for i, line in enumerate(self._lines[key]):
                text = (mark if i == 0 else "   ") + line
                painter.drawText(QRectF(10, y, CARD_WIDTH - 16, MESSAGE_ROW),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
                y += MESSAGE_ROW
        painter.setPen(theme.ACCEPT)
        for i, text in enumerate(self._lines["fixes"]):
            painter.drawText(self.fix_rect(i), Qt.AlignmentFlag.AlignLeft
                             | Qt.AlignmentFlag.AlignVCenter, text)

    def fix_rect(self, index: int) -> QRectF:
        """Where the card draws quick fix `index` (a click there applies it)."""
        lines = self._lines
        y = self._footer_top() + max(1, len(lines["shapes"])) * ROW + 2
        y += (len(lines["errors"]) + len(lines["warnings"]) + index) * MESSAGE_ROW
        return QRectF(10, y, CARD_WIDTH - 16, MESSAGE_ROW)

    def fix_at(self, pos: QPointF) -> Any:
        """The quick fix (engine.fixes.Fix) drawn under `pos` (item coordinates), or None."""
        for i in range(len(self._lines["fixes"])):
            if self.fix_rect(i).contains(pos):
                return self.report.fixes[i]
        return None

    # ---- tooltips --------------------------------------------------------------

    def _tooltip(self) -> str:
        lines = [f"<b>{self.node_id}</b> — {self._lines['block']} ({self.category})",
                 self.spec.doc]
        if self.composite:
            if self.report is not None and self.report.parameters:
                lines.append(f"{self.report.parameters:,} parameters in all")
            lines.append("<i>Double-click to open its definition</i>")
        if self.report is not None:
            lines += [f"<span style='color:{theme.ERROR.name()}'>✖ {e}</span>"
                      for e in self.report.errors]
            lines += [f"<span style='color:{theme.WARNING.name()}'>▲ {w}</span>"
                      for w in self.report.warnings]
        return "<br>".join(lines)

    def port_tooltip(self, port: PortItem) -> str:
        spec_ports = self.spec.outputs if port.is_output else self.spec.inputs
        doc = next((p.doc for p in spec_ports if p.name == port.name), "")
        shape = None
        if self.report is not None:
            shapes = self.report.outputs if port.is_output else self.report.inputs
            shape = shapes.get(port.name)
        kind = "output" if port.is_output else "input"
        text = f"{kind} <b>{port.address}</b>"
        if doc:
            text += f"<br>{doc}"
        if shape is not None:
            text += f"<br>shape {fmt_shape(shape)}"
        return text

    # ---- gestures: handed to the scene -----------------------------------------

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(3 if value else 1)
        return super().itemChange(change, value)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        fix = self.fix_at(event.pos()) if event.button() == Qt.MouseButton.LeftButton else None
        if fix is not None:
            event.accept()
            self.scene().apply_fix(fix)
            return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.scene().begin_move(self, event.scenePos())

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.scene().open_definition(
                self.node_id):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.scene().drag_move(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self.scene().end_move()
