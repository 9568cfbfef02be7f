"""Every question and message the window puts to a person, behind one replaceable object.

Tests (and a future scripting mode) swap in an object with the same methods
that answers at once; the window never calls QMessageBox or QFileDialog
itself. Error messages are shown non-modally so nothing waits on them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

FILE_FILTER = "NetCanvas documents (*.json *.ncz);;JSON documents (*.json);;All files (*)"
SAVE_FILTERS = ("JSON documents (*.json)", "Bundles with trained weights (*.ncz)")


class Dialogs:
    def __init__(self, parent: QWidget | None) -> None:
        self.parent = parent

    def error(self, title: str, text: str) -> None:
        """Show `text` without blocking: the window stays usable behind the box."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self.parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

    def info(self, title: str, text: str) -> None:
        """Show `text` (About and the like) without blocking."""
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok,
                          self.parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

    def ask_save_changes(self, name: str) -> str:
        """'save', 'discard' or 'cancel' for a document with unsaved changes."""
        buttons = (QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                   | QMessageBox.StandardButton.Cancel)
        answer = QMessageBox.question(self.parent, "Unsaved changes",
                                      f"Save the changes to “{name}” first?", buttons,
                                      QMessageBox.StandardButton.Save)
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    def ask_recover(self, description: str) -> bool:
        answer = QMessageBox.question(
            self.parent, "Recover unsaved work",
            f"NetCanvas did not close properly last time.\n\n{description}\n\n"
            "Recover this work? (No discards it.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        """One line of text (a name), `text` offered; None when cancelled or left empty."""
        value, ok = QInputDialog.getText(self.parent, title, label, text=text)
        return value.strip() if ok and value.strip() else None

    def open_path(self, directory: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open document", directory,
                                              FILE_FILTER)
        return path or None

    def save_path(self, suggested: str = "", bundle: bool = False) -> str | None:
        """Where to save; `bundle` offers the bundle filter first (trained weights)."""
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save document", suggested, ";;".join(SAVE_FILTERS),
            SAVE_FILTERS[1] if bundle else SAVE_FILTERS[0])
        if path and not path.lower().endswith((".json", ".ncz")):
            path += ".ncz" if bundle else ".json"
        return path or None

    def export_path(self, title: str, suggested: str, file_filter: str, folder: bool) -> str | None:
        """Where to export: a file, or a folder for PyTorch source."""
        if folder:
            path = QFileDialog.getExistingDirectory(self.parent, title, suggested)
        else:
            path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, file_filter)
        return path or None

    def import_spec(self) -> tuple[str, str] | None:
        """`module.py:ClassName` and the per-sample input shape text, or an `.onnx` path
        and no shape (the file carries its own); None if cancelled."""
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Import model", "",
            "Models (*.py *.onnx);;Python modules (*.py);;ONNX models (*.onnx)")
        if not path:
            return None
        if path.lower().endswith(".onnx"):
            return path, ""
        classes = module_classes(path)
        name, ok = QInputDialog.getItem(self.parent, "Import PyTorch module",
                                        "nn.Module class:", classes or [""], 0, True)
        if not ok or not name:
            return None
        shape, ok = QInputDialog.getText(
            self.parent, "Import PyTorch module",
            "Per-sample input shape (e.g. 1,28,28; empty to guess from a first Linear):")
        return (f"{path}:{name}", shape.strip()) if ok else None


def module_classes(path: str) -> list[str]:
    """Class names defined in a Python file, read without running it."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


class HeadlessDialogs(Dialogs):
    """Answers without a person (screenshots, scripts): errors go to stderr, nothing is saved."""

    def __init__(self) -> None:
        super().__init__(None)
        self.errors: list[str] = []

    def error(self, title: str, text: str) -> None:
        self.errors.append(text)
        print(f"netcanvas: {text}", file=sys.stderr)

    def info(self, title: str, text: str) -> None:
        print(text)

    def ask_save_changes(self, name: str) -> str:
        return "discard"

    def ask_recover(self, description: str) -> bool:
        return False

    def confirm(self, title: str, text: str) -> bool:
        return True

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        return text or None

    def open_path(self, directory: str = "") -> str | None:
        return None

    def save_path(self, suggested: str = "", bundle: bool = False) -> str | None:
        return None
