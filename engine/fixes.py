"""Quick fixes: what checking proposes to repair an error, as data a click can apply and undo.

A `Fix` is a sentence and a list of document operations. Operations are plain
records (set a parameter, insert a block on a wire) so the GUI can wrap each in
its undo command, `netcanvas check` can print the sentence, and a test can
apply the fix and check again. `apply_fix` applies one to a Document and
returns a function that undoes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.document import Document, Edge, Network
from engine.errors import EditError

OPERATIONS = ("set_param", "insert_node_before")


@dataclass(frozen=True)
class Operation:
    """One edit of network `network`.

    `set_param`: set `node`'s parameter `param` to `value`.
    `insert_node_before`: put a new `block` (with `params`) on the wire into `node`'s
    input `port`: upstream -> new block -> node.
    """

    kind: str
    network: str
    node: str
    param: str | None = None
    value: Any = None
    block: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    port: str = "in"

    def __post_init__(self) -> None:
        if self.kind not in OPERATIONS:
            raise ValueError(f"unknown fix operation '{self.kind}' (known: {', '.join(OPERATIONS)})")


@dataclass(frozen=True)
class Fix:
    """A one-click repair: `description` is what the button says."""

    description: str
    operations: tuple[Operation, ...]


Undo = Callable[[], None]


def set_param(network: str, node: str, param: str, value: Any) -> Operation:
    return Operation("set_param", network, node, param=param, value=value)


def insert_before(network: str, node: str, block: str, params: dict[str, Any] | None = None,
                  port: str = "in") -> Operation:
    return Operation("insert_node_before", network, node, block=block, params=dict(params or {}),
                     port=port)


def apply_fix(doc: Document, fix: Fix) -> Undo:
    """Apply every operation of `fix` to `doc`; the returned function reverts them all.

    A failing operation reverts the ones already applied before the error is raised,
    so the document is never left half fixed.
    """
    undos: list[Undo] = []
    try:
        for operation in fix.operations:
            undos.append(apply_operation(doc.network(operation.network), operation))
    except Exception:
        for undo in reversed(undos):
            undo()
        raise

    def undo_all() -> None:
        for undo in reversed(undos):
            undo()

    return undo_all


def apply_operation(net: Network, op: Operation) -> Undo:
    """Apply one operation to `net` (the network `op.network` names); returns its undo."""
    net.node(op.node)  # raises EditError naming the node if it is gone
    if op.kind == "set_param":
        old = net.set_param(op.node, op.param, op.value)
        return lambda: net.set_param(op.node, op.param, old)
    wire = net.incoming(op.node).get(op.port)
    if wire is None:
        raise EditError(f"{op.node}.{op.port} is not wired: nothing to insert {op.block} into")
    target = net.nodes[op.node]
    new = net.add_node(op.block, op.params, pos=(target.pos[0], target.pos[1] - 60.0))
    index = net.edges.index(wire)
    net.disconnect(wire)
    first = Edge(wire.src, wire.src_port, new.id, "in")
    net.add_edge(first)
    second = Edge(new.id, "out", op.node, op.port)
    net.add_edge(second)

    def undo() -> None:
        net.remove_node(new.id)  # takes both new wires with it
        net.add_edge(wire)
        net.edges.insert(index, net.edges.pop())  # back in its place: the file reads the same

    return undo


__all__ = ["Fix", "Operation", "Undo", "apply_fix", "apply_operation", "insert_before", "set_param"]
