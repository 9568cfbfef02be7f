"""The block palette (grouped, searchable, draggable) and the quick-add popup.

Both list the engine's catalogue as it is declared: names, categories and
docs come from the `BlockSpec`s, so a new block appears here by itself. The
palette also lists composites under "My blocks" (`gui/editor/my_blocks.py`),
refreshed when the document's definitions or the library change.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QIcon, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.blocks import CATALOGUE, BlockSpec, by_category
from gui import theme
from gui.editor.my_blocks import CATEGORY as MY_BLOCKS
from gui.editor.my_blocks import Entry

BLOCK_MIME = "application/x-netcanvas-block"
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 1


@cache
def category_icon(category: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(theme.category_color(category))
    painter.drawRoundedRect(1, 1, 12, 12, 3, 3)
    painter.end()
    return QIcon(pix)


def block_tooltip(spec: BlockSpec) -> str:
    ins = ", ".join(p.name for p in spec.inputs) or "—"
    outs = ", ".join(p.name for p in spec.outputs) or "—"
    return f"<b>{spec.name}</b> ({spec.category})<br>{spec.doc}<br><i>in: {ins} · out: {outs}</i>"


def matches(spec: BlockSpec, text: str) -> bool:
    text = text.strip().lower()
    return not text or text in spec.name.lower() or text in spec.category.lower() or (
        len(text) > 2 and text in spec.doc.lower())


def rank(spec: BlockSpec, text: str) -> int:
    """0: the name starts with the text, 1: contains it, 2: category or doc does."""
    text, name = text.strip().lower(), spec.name.lower()
    return 0 if name.startswith(text) else 1 if text in name else 2


class _BlockTree(QTreeWidget):
    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        names = [i.data(0, BLOCK_ROLE) for i in items if i.data(0, BLOCK_ROLE)]
        if names:
            mime.setData(BLOCK_MIME, names[0].encode("utf-8"))
            mime.setText(names[0])
        return mime

    def mimeTypes(self) -> list[str]:
        return [BLOCK_MIME]

    def startDrag(self, supported: Qt.DropAction) -> None:
        """Drag the pressed block; once dropped, nothing stays highlighted in the palette
        (the press selected it only to start the drag)."""
        items = self.selectedItems()
        if items:
            drag = QDrag(self)
            drag.setMimeData(self.mimeData(items))
            drag.exec(supported, Qt.DropAction.CopyAction)
        self.clearSelection()
        self.setCurrentIndex(QModelIndex())


class PaletteWidget(QWidget):
    """Every block by category; type to filter, drag onto the canvas, or double-click."""

    blockActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search blocks…")
        self.search.setClearButtonEnabled(True)
        self.tree = _BlockTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setIndentation(12)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.entries: dict[str, Any] = {}  # name -> BlockSpec or my_blocks.Entry
        self.my_blocks = self._group(MY_BLOCKS)
        for category, specs in by_category().items():
            group = self._group(category)
            for spec in specs:
                self._add_item(group, spec, block_tooltip(spec))
        self.my_blocks.setHidden(True)
        self.tree.expandAll()
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._activate)
        self.search.returnPressed.connect(self._activate_first)

    def _group(self, category: str) -> QTreeWidgetItem:
        group = QTreeWidgetItem([category])
        group.setIcon(0, category_icon(category))
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.tree.addTopLevelItem(group)
        return group

    def _add_item(self, group: QTreeWidgetItem, spec: Any, tooltip: str) -> None:
        item = QTreeWidgetItem([spec.name])
        item.setData(0, BLOCK_ROLE, spec.name)
        item.setToolTip(0, tooltip)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                      | Qt.ItemFlag.ItemIsDragEnabled)
        group.addChild(item)
        self.items[spec.name] = item
        self.entries[spec.name] = spec

    def set_composites(self, entries: dict[str, Entry]) -> None:
        """List `entries` under "My blocks" (the document's, built-in and library ones)."""
        for i in reversed(range(self.my_blocks.childCount())):
            name = self.my_blocks.child(i).data(0, BLOCK_ROLE)
            if name not in CATALOGUE:
                self.items.pop(name, None)
                self.entries.pop(name, None)
            self.my_blocks.removeChild(self.my_blocks.child(i))
        for name, found in entries.items():
            if name not in CATALOGUE:
                self._add_item(self.my_blocks, found, found.tooltip)
        self.filter(self.search.text())

    def filter(self, text: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            shown = 0
            for j in range(group.childCount()):
                child = group.child(j)
                ok = matches(self.entries[child.data(0, BLOCK_ROLE)], text)
                child.setHidden(not ok)
                shown += ok
            group.setHidden(shown == 0)
        self.tree.expandAll()

    def visible_blocks(self) -> list[str]:
        return [name for name, item in self.items.items()
                if not item.isHidden() and not item.parent().isHidden()]

    def _activate(self, item: QTreeWidgetItem, column: int = 0) -> None:
        name = item.data(0, BLOCK_ROLE)
        if name:
            self.blockActivated.emit(name)

    def _activate_first(self) -> None:
        blocks = self.visible_blocks()
        if blocks:
            self.blockActivated.emit(blocks[0])


class QuickAddPopup(QFrame):
    """Type a few letters, press Enter: the block is added where the popup opened."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None,
                 composites: dict[str, Entry] | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.composites = {n: e for n, e in (composites or {}).items() if n not in CATALOGUE}
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Add block…")
        self.list = QListWidget()
        self.list.setMinimumHeight(260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.resize(260, 320)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self.accept_current)
        self.list.itemActivated.connect(lambda item: self.accept_block(item.text()))
        self.search.installEventFilter(self)
        self.filter("")

    def filter(self, text: str) -> None:
        self.list.clear()
        blocks = [*CATALOGUE.values(), *self.composites.values()]
        found = [s for s in blocks if matches(s, text)]
        for spec in sorted(found, key=lambda s: rank(s, text)):
            item = QListWidgetItem(category_icon(spec.category), spec.name)
            item.setToolTip(spec.tooltip if isinstance(spec, Entry) else block_tooltip(spec))
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def show_at(self, global_pos: QPoint) -> None:
        self.move(global_pos)
        self.show()
        self.search.setFocus()

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.accept_block(item.text())

    def accept_block(self, name: str) -> None:
        self.chosen.emit(name)
        self.close()

    def eventFilter(self, obj, event) -> bool:
        # Up/Down in the search field walk the list, as in every command palette.
        if obj is self.search and isinstance(event, QKeyEvent) and event.type() == event.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
                self.list.setCurrentRow(row)
                return True
        return super().eventFilter(obj, event)
