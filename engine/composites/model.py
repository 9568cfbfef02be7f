"""The records of composite blocks: an exposed parameter and an error found inside.

Kept free of engine imports (but the block declarations) so that `engine.document`
can hold them without an import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.blocks.base import Param

# A composite's name becomes a class name in the Python export: CamelCase identifier.
BLOCK_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")

REPEAT = Param("repeat", "int", 1,
               "Chain this many copies, each with its own weights (one input and one output only).",
               min=1, max=1000)


@dataclass
class ExposedParam:
    """An inner parameter a composite's author shows on the composite's node.

    Its value overrides every target (`"inner_node.param"`) in each use of the block.
    """

    name: str
    kind: str
    default: Any
    doc: str = ""
    targets: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()

    def param(self) -> Param:
        """The declaration the inspector and validation read, as for a catalogue block."""
        return Param(self.name, self.kind, self.default, self.doc, self.min, self.max,
                     tuple(self.choices))

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default}
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        if self.choices:
            record["choices"] = list(self.choices)
        record["doc"] = self.doc
        record["targets"] = list(self.targets)
        return record


@dataclass(frozen=True)
class InnerError:
    """An error on a node inside a composite, for the Problems panel to open.

    `block` is the composite whose definition holds `node_id` (empty `node_id`: the
    definition as a whole); `path` is the chain of composite names from the outer
    node down to `block`.
    """

    block: str
    node_id: str
    message: str
    path: tuple[str, ...]
    node_block: str = ""

    def line(self) -> str:
        """`inside ResidualBlock: conv1 (Conv2d): <reason>`."""
        where = " > ".join(self.path)
        if not self.node_id:
            return f"inside {where}: {self.message}"
        return f"inside {where}: {self.node_id} ({self.node_block}): {self.message}"
