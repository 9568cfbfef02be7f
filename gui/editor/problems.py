"""The problems list: every error and warning of every network; a click selects the node.

An error inside a composite is listed on the node that uses it, and a click on it
opens the composite's definition and selects the inner node it names.

An error that checking can repair is followed by its quick fixes, one button each
("Fix: Set linear_2.out_features to 10"): a click applies the fix as one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QWidget

from engine.fixes import Fix
from gui import theme
from gui.editor.fix_command import apply_quick_fix
from gui.editor.graphs import block_key
from gui.editor.session import EditorSession

TARGET_ROLE = Qt.ItemDataRole.UserRole + 2


class ProblemsPanel(QListWidget):
    nodeRequested = Signal(str, str)  # graph key (gui/editor/graphs.py), node id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: EditorSession | None = None
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.itemClicked.connect(self._go)
        self.itemActivated.connect(self._go)

    def set_session(self, session: EditorSession | None) -> None:
        if self.session is not None:
            self.session.checked.disconnect(self.refresh)
        self.session = session
        if session is not None:
            session.checked.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        if self.session is None:
            return
        for problem in self.session.task_problems:
            self._add(theme.ERROR, f"✖ {problem}", None)
        several = len(self.session.reports) > 1
        for net_name, report in self.session.reports.items():
            prefix = f"{net_name}: " if several else ""
            for problem in report.problems:
                self._add(theme.ERROR, f"✖ {prefix}{problem}", None)
            for node_id, nr in report.nodes.items():
                for kind, colour, mark in (("errors", theme.ERROR, "✖"),
                                           ("warnings", theme.WARNING, "▲")):
                    for text in getattr(nr, kind):
                        target = _inner_target(text, nr) or (net_name, node_id)
                        self._add(colour, f"{mark} {prefix}{node_id} ({nr.block}): {text}",
                                  target)
                for fix in nr.fixes:
                    self._add_fix(fix)
        if self.count() == 0:
            item = QListWidgetItem("✔ No problems: every shape fits.")
            item.setForeground(theme.ACCEPT)
            self.addItem(item)

    def _add(self, colour, text: str, target: tuple[str, str] | None) -> None:
        item = QListWidgetItem(text)
        item.setForeground(colour)
        item.setToolTip(text)
        item.setData(TARGET_ROLE, target)
        self.addItem(item)

    def _add_fix(self, fix: Fix) -> None:
        """A row holding a button that applies `fix` (the list row itself stays inert)."""
        item = QListWidgetItem()
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        button = QPushButton(f"Fix: {fix.description}")
        button.setObjectName("quickFix")
        button.setToolTip("Apply this repair (Edit ▸ Undo takes it back)")
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.clicked.connect(lambda _=False, f=fix: self.apply_fix(f))
        item.setSizeHint(button.sizeHint())
        self.addItem(item)
        self.setItemWidget(item, button)

    def apply_fix(self, fix: Fix) -> bool:
        """Apply `fix` through the session's undo stack; False when the edit was refused."""
        return self.session is not None and apply_quick_fix(self.session, fix)

    def fix_buttons(self) -> list[QPushButton]:
        """The quick-fix buttons shown, in list order."""
        found = (self.itemWidget(self.item(i)) for i in range(self.count()))
        return [w for w in found if isinstance(w, QPushButton)]

    def _go(self, item: QListWidgetItem) -> None:
        target = item.data(TARGET_ROLE)
        if target:
            self.nodeRequested.emit(target[0], target[1])

    def problem_count(self) -> tuple[int, int]:
        """(errors, warnings) over the whole document."""
        if self.session is None:
            return 0, 0
        errors = sum(len(r.errors) for r in self.session.reports.values()) + \
            len(self.session.task_problems)
        warnings = sum(len(n.warnings) for r in self.session.reports.values()
                       for n in r.nodes.values())
        return errors, warnings


def _inner_target(text: str, report) -> tuple[str, str] | None:
    """(definition key, inner node) when `text` reports an error inside a composite."""
    for inner in getattr(report, "inner_errors", ()):
        if inner.message in text and inner.node_id in text:
            return block_key(inner.block), inner.node_id
    return None
