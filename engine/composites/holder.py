"""The composite-block half of a `Document`: its definitions and how names resolve.

A document's own definitions come first, then the catalogue, then the built-in
composites (a composite may not take a catalogue name, so the order among those
two never matters). Specs are cached per name and dropped on every edit of any
definition (`revision`), so nothing reads a stale composite.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from engine.blocks import CATALOGUE
from engine.composites.model import BLOCK_NAME, ExposedParam
from engine.errors import EditError
from engine.observer import Event

if TYPE_CHECKING:
    from engine.blocks.base import BlockSpec
    from engine.document import Network


def resolve_default(name: str) -> BlockSpec:
    """A catalogue block or a built-in composite; KeyError names an unknown block."""
    spec = CATALOGUE.get(name)
    if spec is not None:
        return spec
    from engine.composites.builtin import builtin_spec

    return builtin_spec(name)


def block_name_problem(name: str, taken: dict | None = None) -> str | None:
    """Why `name` cannot name a new composite, or None."""
    if not isinstance(name, str) or not BLOCK_NAME.fullmatch(name):
        return f"a block name must be a CamelCase identifier (like ResidualBlock), got {name!r}"
    if name in CATALOGUE:
        return f"'{name}' is a catalogue block; pick another name"
    if taken is not None and name in taken:
        return f"a block '{name}' already exists in this document"
    return None


class BlockHolder:
    """Composite definitions owned by a document, with events for the editor."""

    changed: Event  # provided by Document

    def __init__(self) -> None:
        self.blocks: dict[str, Network] = {}
        self.blocks_changed = Event()  # () a definition was added or removed, or its ports/params
        self.revision = 0  # bumped on every edit that can change what a composite computes
        self._specs: dict[str, BlockSpec] = {}

    # ---- resolving -------------------------------------------------------------

    def resolve_block(self, name: str) -> BlockSpec:
        """The declaration `name` has in this document; KeyError when unknown."""
        spec = self._specs.get(name)
        if spec is None and name in self.blocks:
            from engine.composites.spec import composite_spec

            spec = self._specs[name] = composite_spec(name, self.blocks[name], self)
        return spec if spec is not None else resolve_default(name)

    def definition(self, name: str) -> Network | None:
        """The definition of composite `name`: this document's own, else a built-in one."""
        if name in self.blocks:
            return self.blocks[name]
        if name in CATALOGUE:
            return None
        from engine.composites.builtin import builtin_blocks

        return builtin_blocks().get(name)

    def block_names(self) -> list[str]:
        """Composites usable here (own, then built-in), for the palette."""
        from engine.composites.builtin import builtin_blocks

        return list(self.blocks) + [n for n in builtin_blocks() if n not in self.blocks]

    def use_cycle(self, container: str, block: str) -> list[str]:
        """The chain by which putting `block` inside `container` would make it use itself."""
        from engine.composites.cycles import path_between

        path = path_between(self, block, container)
        return [container, *path] if path else []

    def block_users(self, name: str) -> list[str]:
        """`network.node` addresses of every node using block `name` here."""
        holders = [*self.networks.items(), *self.blocks.items()]  # type: ignore[attr-defined]
        return [f"{n}.{node.id}" for n, net in holders
                for node in net.nodes.values() if node.block == name]

    # ---- edits -----------------------------------------------------------------

    def add_block(self, name: str, network: Network | None = None) -> Network:
        """Define composite `name` (an empty network unless one is given); returns it."""
        problem = block_name_problem(name, self.blocks)
        if problem:
            raise EditError(problem)
        from engine.document import Network

        definition = network if network is not None else Network(name)
        definition.name, definition.is_definition, definition.context = name, True, self
        for node in definition.nodes.values():
            node._network = definition
        for event in _EDIT_EVENTS:
            getattr(definition, event).sub(self._definition_edited)
        definition.changed.sub(self.changed.emit)
        self.blocks[name] = definition
        self._blocks_edited()
        return definition

    def remove_block(self, name: str) -> Network:
        """Drop a definition no node uses (a built-in of that name then serves them)."""
        definition = self.blocks.get(name)
        if definition is None:
            raise EditError(f"no block '{name}' in this document")
        users = self.block_users(name)
        from engine.composites.builtin import builtin_blocks

        if users and name not in builtin_blocks():
            raise EditError(f"block '{name}' is still used by {', '.join(users)}")
        for event in _EDIT_EVENTS:
            getattr(definition, event).unsub(self._definition_edited)
        definition.changed.unsub(self.changed.emit)
        del self.blocks[name]
        self._blocks_edited()
        return definition

    def set_block_info(self, name: str, doc: str | None = None,
                       exposed: list[ExposedParam] | None = None) -> tuple[str, list[ExposedParam]]:
        """Change a definition's doc and/or exposed parameters; returns the old ones (undo)."""
        definition = self.blocks.get(name)
        if definition is None:
            raise EditError(f"no block '{name}' in this document")
        old = (definition.doc, copy.deepcopy(definition.exposed))
        if doc is not None:
            definition.doc = doc
        if exposed is not None:
            from engine.composites.exposed import exposed_problems

            problems = exposed_problems(definition, exposed)
            if problems:
                raise EditError("{}: {}".format(*problems[0]))
            definition.exposed = copy.deepcopy(list(exposed))
        self._blocks_edited()
        return old

    def _definition_edited(self, *args: Any) -> None:
        self.revision += 1
        self._specs.clear()
        if args and getattr(args[0], "block", None) in ("Input", "Output") and len(args) == 1:
            self.blocks_changed.emit()  # a port came or went: outer nodes redraw theirs

    def _blocks_edited(self) -> None:
        self._definition_edited()
        self.blocks_changed.emit()
        self.changed.emit()


# Edits inside a definition that can change what its uses compute (moves cannot).
_EDIT_EVENTS = ("node_added", "node_removed", "edge_added", "edge_removed", "param_changed")
