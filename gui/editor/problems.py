"""The problems list: every error and warning of every network; a click selects the node."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from gui import theme
from gui.editor.session import EditorSession

TARGET_ROLE = Qt.ItemDataRole.UserRole + 2


class ProblemsPanel(QListWidget):
    nodeRequested = Signal(str, str)  # network, node id

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
        several = len(self.session.reports) > 1
        for net_name, report in self.session.reports.items():
            prefix = f"{net_name}: " if several else ""
            for problem in report.problems:
                self._add(theme.ERROR, f"✖ {prefix}{problem}", None)
            for node_id, nr in report.nodes.items():
                for kind, colour, mark in (("errors", theme.ERROR, "✖"),
                                           ("warnings", theme.WARNING, "▲")):
                    for text in getattr(nr, kind):
                        self._add(colour, f"{mark} {prefix}{node_id} ({nr.block}): {text}",
                                  (net_name, node_id))
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

    def _go(self, item: QListWidgetItem) -> None:
        target = item.data(TARGET_ROLE)
        if target:
            self.nodeRequested.emit(target[0], target[1])

    def problem_count(self) -> tuple[int, int]:
        """(errors, warnings) over the whole document."""
        if self.session is None:
            return 0, 0
        errors = sum(len(r.errors) for r in self.session.reports.values())
        warnings = sum(len(n.warnings) for r in self.session.reports.values()
                       for n in r.nodes.values())
        return errors, warnings
