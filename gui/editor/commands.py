"""One `QUndoCommand` per kind of edit; each calls `Document`/`Network` methods only.

Commands are run once by `EditorSession.try_push` *before* they are pushed
(Meshroom's `tryAndPush`): a refused edit raises, nothing is pushed and the
document is unchanged. Undo restores the document exactly, including the
order of nodes, edges and parameters, so `document_to_json` round-trips.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.document import Document, Edge, Network, Node
from gui.editor.graphs import graph_of

MERGE_WINDOW_S = 1.5  # parameter edits closer than this merge into one undo step

MOVE_ID, PARAM_ID, TRAINING_ID = 1001, 1002, 1003


class Command(QUndoCommand):
    """Base: `do()` applies, `revert()` undoes; the first redo after `try_push` is skipped."""

    def __init__(self, document: Document, text: str) -> None:
        super().__init__(text)
        self.document = document
        self.skip_next_redo = False

    def do(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        if self.skip_next_redo:  # already applied by try_push
            self.skip_next_redo = False
            return
        self.do()

    def undo(self) -> None:
        self.revert()


class NetworkCommand(Command):
    """A command on one network or definition, by its key (looked up each time, never
    cached: an undone group may have replaced the definition's object)."""

    def __init__(self, document: Document, network: str, text: str) -> None:
        super().__init__(document, text)
        self.network_name = network

    @property
    def net(self) -> Network:
        return graph_of(self.document, self.network_name)


def restore_edges(net: Network, wanted: list[Edge]) -> None:
    """Make `net.edges` equal `wanted`, in order, with the fewest disconnects and re-adds."""
    current = list(net.edges)
    k = 0
    while k < min(len(current), len(wanted)) and current[k] == wanted[k]:
        k += 1
    for edge in reversed(current[k:]):
        net.disconnect(edge)
    for edge in wanted[k:]:
        net.add_edge(edge)


class AddNodeCommand(NetworkCommand):
    def __init__(self, document: Document, network: str, block: str, pos: tuple[float, float],
                 params: dict[str, Any] | None = None, node_id: str | None = None) -> None:
        super().__init__(document, network, f"Add {block}")
        self.block, self.pos, self.params = block, pos, dict(params or {})
        self.node_id = node_id

    def do(self) -> None:
        node = self.net.add_node(self.block, self.params, self.pos, self.node_id)
        self.node_id = node.id  # redo reuses the same id

    def revert(self) -> None:
        self.net.remove_node(self.node_id)


class RemoveCommand(NetworkCommand):
    """Delete nodes (with every edge touching them) and loose edges."""

    def __init__(self, document: Document, network: str, node_ids: Iterable[str],
                 edges: Iterable[Edge] = (), text: str = "Delete") -> None:
        super().__init__(document, network, text)
        self.node_ids = list(node_ids)
        self.edges = list(edges)
        self._removed: list[tuple[int, Node]] = []
        self._edges_before: list[Edge] = []

    def do(self) -> None:
        net = self.net
        order = list(net.nodes)
        self._edges_before = list(net.edges)
        self._removed = sorted((order.index(n), net.node(n)) for n in self.node_ids)
        for edge in self.edges:
            if edge in net.edges:
                net.disconnect(edge)
        for _, node in self._removed:
            net.remove_node(node.id)

    def revert(self) -> None:
        net = self.net
        for index, node in self._removed:  # ascending, so each index is right when used
            net.restore_node(node, index)
        restore_edges(net, self._edges_before)


class MoveCommand(NetworkCommand):
    """Move nodes; every step of one drag gesture merges into one undo step."""

    def __init__(self, document: Document, network: str,
                 positions: dict[str, tuple[float, float]], gesture: int | None = None,
                 text: str = "Move") -> None:
        super().__init__(document, network, text)
        self.new = dict(positions)
        self.old: dict[str, tuple[float, float]] = {}
        self.gesture = gesture

    def id(self) -> int:
        return MOVE_ID if self.gesture is not None else -1

    def do(self) -> None:
        net = self.net
        for node_id in self.new:
            self.old.setdefault(node_id, net.node(node_id).pos)
        for node_id, pos in self.new.items():
            net.move(node_id, pos)

    def revert(self) -> None:
        for node_id, pos in self.old.items():
            self.net.move(node_id, pos)

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, MoveCommand) and other.gesture == self.gesture
                and other.network_name == self.network_name):
            return False
        for node_id, pos in other.old.items():
            self.old.setdefault(node_id, pos)
        self.new.update(other.new)
        self.setObsolete(all(self.new[n] == self.old.get(n) for n in self.new))
        return True


class ConnectCommand(NetworkCommand):
    """Wire `source` to `target`; an edge already in that input is replaced (and restored)."""

    def __init__(self, document: Document, network: str, source: str, target: str,
                 unplug: Edge | None = None) -> None:
        super().__init__(document, network, f"Connect {source} → {target}")
        self.source, self.target, self.unplug = source, target, unplug
        self._before: list[Edge] = []

    def do(self) -> None:
        net = self.net
        self._before = list(net.edges)
        if self.unplug is not None:
            net.disconnect(self.unplug)
        try:
            net.connect(self.source, self.target)
        except Exception:
            restore_edges(net, self._before)
            raise

    def revert(self) -> None:
        restore_edges(self.net, self._before)


class DisconnectCommand(NetworkCommand):
    def __init__(self, document: Document, network: str, edges: Iterable[Edge]) -> None:
        super().__init__(document, network, "Disconnect")
        self.edges = list(edges)
        self._before: list[Edge] = []

    def do(self) -> None:
        net = self.net
        self._before = list(net.edges)
        for edge in self.edges:
            net.disconnect(edge)

    def revert(self) -> None:
        restore_edges(self.net, self._before)


class _TimedMerge(Command):
    """Consecutive edits of the same key within `MERGE_WINDOW_S` become one undo step."""

    key: tuple[Any, ...] = ()

    def __init__(self, document: Document, text: str, value: Any) -> None:
        super().__init__(document, text)
        self.value = value
        self.old: Any = None
        self._has_old = False
        self.stamp = time.monotonic()

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, type(self)) and other.key == self.key
                and other.stamp - self.stamp <= MERGE_WINDOW_S):
            return False
        self.value, self.stamp = other.value, other.stamp
        self.setObsolete(self.value == self.old)
        return True

    def _remember(self, old: Any) -> None:
        if not self._has_old:
            self.old, self._has_old = old, True


class SetParamCommand(_TimedMerge):
    def __init__(self, document: Document, network: str, node_id: str, name: str,
                 value: Any) -> None:
        super().__init__(document, f"Set {node_id}.{name}", value)
        self.network_name, self.node_id, self.name = network, node_id, name
        self.key = (network, node_id, name)

    def id(self) -> int:
        return PARAM_ID

    def do(self) -> None:
        self._remember(graph_of(self.document, self.network_name).set_param(
            self.node_id, self.name, self.value))

    def revert(self) -> None:
        graph_of(self.document, self.network_name).set_param(self.node_id, self.name, self.old)


class SetTrainingCommand(_TimedMerge):
    def __init__(self, document: Document, key: str, value: Any) -> None:
        super().__init__(document, f"Set training {key}", value)
        self.training_key = key
        self.key = (key,)

    def id(self) -> int:
        return TRAINING_ID

    def do(self) -> None:
        self._remember(self.document.set_training(self.training_key, self.value))

    def revert(self) -> None:
        self.document.set_training(self.training_key, self.old)


class PasteCommand(NetworkCommand):
    """Add prepared nodes (fresh ids already chosen) and the edges between them."""

    def __init__(self, document: Document, network: str, nodes: list[dict[str, Any]],
                 edges: list[tuple[str, str]], text: str = "Paste") -> None:
        super().__init__(document, network, text)
        self.nodes, self.edges = nodes, edges

    @property
    def node_ids(self) -> list[str]:
        return [n["id"] for n in self.nodes]

    def do(self) -> None:
        net = self.net
        added: list[str] = []
        try:
            for rec in self.nodes:
                net.add_node(rec["block"], rec.get("params", {}), rec["pos"], rec["id"],
                             rec.get("extra", {}))
                added.append(rec["id"])
            for source, target in self.edges:
                net.connect(source, target)
        except Exception:
            for node_id in reversed(added):
                net.remove_node(node_id)
            raise

    def revert(self) -> None:
        for node_id in reversed(self.node_ids):
            self.net.remove_node(node_id)
