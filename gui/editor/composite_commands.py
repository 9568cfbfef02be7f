"""Undo steps that change which composites the document defines (issue 15).

Group and Ungroup wrap the engine's `Regroup` (its `redo`/`undo` restore ids,
params, positions, edges, file order and the definition exactly), so the GUI
adds nothing to what the edit means. Dropping a built-in or library block
copies its definition into the document in the same step as adding the node,
so one Undo takes both back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.document import Document, Network
from gui.editor.commands import AddNodeCommand, Command, PasteCommand


class RegroupCommand(Command):
    """Group or Ungroup: `make()` plans the engine edit once; redo/undo replay it."""

    def __init__(self, document: Document, text: str, make: Callable[[], Any]) -> None:
        super().__init__(document, text)
        self.make = make
        self.regroup: Any = None

    def do(self) -> None:
        if self.regroup is None:
            self.regroup = self.make()  # raises EditError with the reason: nothing pushed
        self.regroup.redo()

    def revert(self) -> None:
        self.regroup.undo()


class Definitions:
    """Definitions one command added to `document.blocks`, so undo and redo can
    take the very same objects out and put them back."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.added: list[tuple[str, Network]] | None = None

    def import_once(self, block: str) -> None:
        """First run: copy `block` (and what it uses) in; later runs: put them back."""
        if self.added is not None:
            self.restore()
            return
        from engine.composites import import_block

        before = set(self.document.blocks)
        if block not in before:
            import_block(self.document, block)
        self.added = [(n, d) for n, d in self.document.blocks.items() if n not in before]

    def restore(self) -> None:
        for name, definition in self.added or []:
            self.document.add_block(name, definition)

    def remove(self) -> None:
        for name, _ in reversed(self.added or []):
            if name in self.document.blocks:
                self.document.remove_block(name)


class _WithDefinitions:
    """An edit that needs composite definitions in the document: they come in before it
    and leave on its undo (or when it fails), as one undo step."""

    definitions: Definitions

    def bring_definitions(self) -> None:
        raise NotImplementedError

    def do(self) -> None:
        self.bring_definitions()
        try:
            super().do()
        except Exception:
            self.definitions.remove()
            raise

    def revert(self) -> None:
        super().revert()
        self.definitions.remove()


class AddCompositeCommand(_WithDefinitions, AddNodeCommand):
    """Add a node of a composite, copying its definition in first when the document
    does not define it yet (a built-in or a block of the user's library)."""

    def __init__(self, document: Document, network: str, block: str,
                 pos: tuple[float, float], params: dict[str, Any] | None = None) -> None:
        super().__init__(document, network, block, pos, params)
        self.definitions = Definitions(document)

    def bring_definitions(self) -> None:
        self.definitions.import_once(self.block)


class ImportBlockCommand(Command):
    """Copy a built-in composite into the document so its definition can be edited here."""

    def __init__(self, document: Document, block: str) -> None:
        super().__init__(document, f"Copy {block} into the document")
        self.block = block
        self.definitions = Definitions(document)

    def do(self) -> None:
        self.definitions.import_once(self.block)

    def revert(self) -> None:
        self.definitions.remove()


class PasteWithBlocksCommand(_WithDefinitions, PasteCommand):
    """Paste nodes together with the definitions of the composites they use that the
    document lacks (copied from another document): one undo step for both."""

    def __init__(self, document: Document, network: str, nodes: list[dict[str, Any]],
                 edges: list[tuple[str, str]], definitions: list[tuple[str, Network]],
                 text: str = "Paste") -> None:
        super().__init__(document, network, nodes, edges, text)
        self.definitions = Definitions(document)
        self.definitions.added = list(definitions)

    def bring_definitions(self) -> None:
        self.definitions.restore()


class BlockInfoCommand(Command):
    """Change a definition's description or exposed parameters (`set_block_info`)."""

    def __init__(self, document: Document, block: str, text: str, doc: str | None = None,
                 exposed: list[Any] | None = None) -> None:
        super().__init__(document, text)
        self.block, self.doc, self.exposed = block, doc, exposed
        self.old: tuple[str, list[Any]] | None = None

    def do(self) -> None:
        old = self.document.set_block_info(self.block, self.doc, self.exposed)
        if self.old is None:
            self.old = old

    def revert(self) -> None:
        self.document.set_block_info(self.block, *self.old)
