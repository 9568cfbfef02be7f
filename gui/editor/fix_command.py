"""A quick fix (engine/fixes.py) as one undo step: every operation of the fix, undone together."""

from __future__ import annotations

from engine.document import Document
from engine.fixes import Fix, Undo, apply_fix
from gui.editor.commands import Command
from gui.editor.session import EditorSession


class FixCommand(Command):
    """Apply `fix`; undo reverts all its operations (the engine restores the exact order)."""

    def __init__(self, document: Document, fix: Fix) -> None:
        super().__init__(document, f"Fix: {fix.description}")
        self.fix = fix
        self._undo: Undo | None = None

    def do(self) -> None:
        self._undo = apply_fix(self.document, self.fix)

    def revert(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None


def apply_quick_fix(session: EditorSession, fix: Fix) -> bool:
    """Push `fix` on the session's undo stack (refused, like any edit, while training runs)."""
    return session.try_push(FixCommand(session.document, fix))


__all__ = ["FixCommand", "apply_quick_fix"]
