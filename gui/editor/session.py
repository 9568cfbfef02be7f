"""One open document: its undo stack, its live shape reports and every edit a user can make.

Scenes, the inspector and the main window call the methods here; each builds
a command from `commands.py` and hands it to `try_push`, which applies it and
pushes it only if the Document accepted it. Checking is coalesced: any number
of edits within `CHECK_DELAY_MS` cost one incremental `NetworkChecker` pass,
so typing in the inspector never waits on inference.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from engine.blocks import CATALOGUE
from engine.document import Document, Edge
from engine.errors import NetCanvasError
from engine.shapes import NetworkChecker, NetworkReport
from gui.editor import clipboard
from gui.editor.commands import (
    AddNodeCommand,
    Command,
    ConnectCommand,
    DisconnectCommand,
    MoveCommand,
    PasteCommand,
    RemoveCommand,
    SetParamCommand,
    SetTrainingCommand,
)
from gui.editor.composite_commands import (
    AddCompositeCommand,
    BlockInfoCommand,
    ImportBlockCommand,
    PasteWithBlocksCommand,
    RegroupCommand,
)
from gui.editor.graphs import block_key, block_of, graph_of
from gui.editor.signals import DocumentSignals, NetworkSignals

CHECK_DELAY_MS = 20


def _dataset_lookup(doc: Document):
    """Dataset shapes for the *current* training setup (the engine caches per spec)."""
    def lookup():
        from engine.data import data_folder, input_shapes

        return input_shapes(doc.training, data_folder(doc))  # relative paths: the doc's folder

    return lookup


class EditorSession(QObject):
    """The document being edited and everything that edits it."""

    checked = Signal()  # reports are current
    refused = Signal(str)  # an edit the document refused, in words
    lockedChanged = Signal(bool)
    graphsChanged = Signal()  # a definition came or went: `network_signals` changed

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = QUndoStack(self)
        self.signals = DocumentSignals(document, self)
        self.network_signals: dict[str, NetworkSignals] = {}
        self.checkers: dict[str, NetworkChecker] = {}
        self.reports: dict[str, NetworkReport] = {}  # networks only: totals and training
        # Definitions shown in tabs, by key ("block:Name"), checked with the shapes and
        # values of their first use; kept apart from `reports` so nothing counts twice.
        self.watched: set[str] = set()
        self.block_reports: dict[str, NetworkReport] = {}
        self.task_problems: list[str] = []  # about the document as a whole (its dataset)
        self.locked = False
        self._gestures = itertools.count(1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check_now)
        self.signals.changed.connect(self.schedule_check)
        self.signals.trainingChanged.connect(self._on_training_changed)
        self.signals.networksChanged.connect(self._sync_networks)
        self.signals.blocksChanged.connect(self._sync_blocks)
        self._sync_networks()
        self._sync_blocks()
        self.check_now()

    # ---- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        """Detach from the document (it is being replaced or the window closes)."""
        self._timer.stop()
        self.signals.close()
        for bridge in self.network_signals.values():
            bridge.close()
        for checker in self.checkers.values():
            checker.close()
        self.checkers.clear()

    def _sync_networks(self) -> None:
        for name, net in self.document.networks.items():
            if name not in self.checkers:
                self.network_signals[name] = NetworkSignals(net, self)
                self.checkers[name] = NetworkChecker(net, _dataset_lookup(self.document))
        self.schedule_check()

    def _sync_blocks(self) -> None:
        """A bridge per definition the document holds. An undone Group takes one out and
        a redo puts an object back: a bridge whose object went is closed, so views
        rebuild on `graphsChanged` instead of showing a graph nobody edits."""
        live = {block_key(n): d for n, d in self.document.blocks.items()}
        for key in [k for k in self.network_signals if block_of(k) is not None]:
            if live.get(key) is not self.network_signals[key].network:
                self.network_signals.pop(key).close()
                self.block_reports.pop(key, None)
        for key, definition in live.items():
            if key not in self.network_signals:
                self.network_signals[key] = NetworkSignals(definition, self)
        self.schedule_check()  # the checkers see the definitions' revision themselves
        self.graphsChanged.emit()

    def watch(self, key: str, on: bool = True) -> None:
        """Check a definition on every pass while its tab is open (`on`), or stop."""
        if on:
            self.watched.add(key)
        else:
            self.watched.discard(key)
            self.block_reports.pop(key, None)

    # ---- checking --------------------------------------------------------------

    def schedule_check(self) -> None:
        self._timer.start()

    def check_now(self) -> None:
        """Bring every network's report up to date (incremental) and tell the views."""
        self._timer.stop()
        for name, checker in self.checkers.items():
            self.reports[name] = checker.report()
        self._check_definitions()
        self._check_task()
        self.checked.emit()

    def _check_definitions(self) -> None:
        """Each watched definition, checked afresh with the shapes and exposed values of
        its first use (either may have changed with any edit outside it)."""
        from engine.composites import definition_checker

        for key in sorted(self.watched):
            if block_of(key) not in self.document.blocks:
                self.block_reports.pop(key, None)
                continue
            checker = definition_checker(self.document, block_of(key))
            try:
                self.block_reports[key] = checker.report()
            finally:
                checker.close()

    def report_for(self, key: str) -> NetworkReport | None:
        """The latest report of a network or of a definition (by its key)."""
        return (self.block_reports if block_of(key) else self.reports).get(key)

    def _check_task(self) -> None:
        """Outputs against the task, loss and dataset, with their quick fixes (as `check`)."""
        from engine.task_check import check_task

        try:
            self.task_problems = check_task(self.document, self.reports)
        except Exception as exc:  # noqa: BLE001  a dataset's bug must not take the editor down
            self.task_problems = [f"training.dataset: {type(exc).__name__}: {exc}"]

    def _on_training_changed(self, key: str) -> None:
        for checker in self.checkers.values():
            checker.invalidate()
        self.schedule_check()

    def totals(self, network: str | None = None) -> tuple[int, int]:
        """(parameters, multiply-adds) of one network, or of the whole document (None)."""
        if network is None:
            reports = list(self.reports.values())
        else:
            reports = [self.reports[network]] if network in self.reports else []
        return sum(r.parameters for r in reports), sum(r.macs for r in reports)

    # ---- pushing ---------------------------------------------------------------

    def set_locked(self, locked: bool) -> None:
        """Refuse every edit (a training run is in progress: Meshroom's lockAtThisIndex)."""
        self.locked = locked
        self.lockedChanged.emit(locked)

    def try_push(self, command: Command) -> bool:
        """Apply `command`; push it only if the document accepted it."""
        if self.locked:
            self.refused.emit("editing is locked while training runs")
            return False
        try:
            command.do()
        except (NetCanvasError, KeyError, ValueError, TypeError) as exc:
            self.refused.emit(str(exc).strip("'\""))
            return False
        command.skip_next_redo = True
        self.undo_stack.push(command)
        return True

    # ---- edits -----------------------------------------------------------------

    def add_node(self, network: str, block: str, pos: tuple[float, float],
                 params: dict[str, Any] | None = None) -> str | None:
        """Add a block; a composite the document does not define yet (built-in or from
        the library) brings its definition in the same undo step."""
        kind = AddNodeCommand if block in CATALOGUE else AddCompositeCommand
        command = kind(self.document, network, block, pos, params)
        return command.node_id if self.try_push(command) else None

    def remove(self, network: str, node_ids: Sequence[str], edges: Sequence[Edge] = (),
               text: str = "Delete") -> bool:
        if not node_ids and not edges:
            return False
        return self.try_push(RemoveCommand(self.document, network, node_ids, edges, text))

    def new_gesture(self) -> int:
        """An id for one drag: its moves merge into one undo step."""
        return next(self._gestures)

    def move(self, network: str, positions: dict[str, tuple[float, float]],
             gesture: int | None = None, text: str = "Move") -> bool:
        net = graph_of(self.document, network)
        if all(net.node(n).pos == tuple(p) for n, p in positions.items()):
            return False
        return self.try_push(MoveCommand(self.document, network, positions, gesture, text))

    def connect(self, network: str, source: str, target: str, unplug: Edge | None = None,
                ) -> bool:
        return self.try_push(ConnectCommand(self.document, network, source, target, unplug))

    def disconnect(self, network: str, edges: list[Edge]) -> bool:
        return bool(edges) and self.try_push(DisconnectCommand(self.document, network, edges))

    def set_param(self, network: str, node_id: str, name: str, value: Any) -> bool:
        node = graph_of(self.document, network).node(node_id)
        if name in node.params and node.params[name] == value:
            return False
        return self.try_push(SetParamCommand(self.document, network, node_id, name, value))

    def set_training(self, key: str, value: Any) -> bool:
        if self.document.training.get(key) == value:
            return False
        return self.try_push(SetTrainingCommand(self.document, key, copy.deepcopy(value)))

    def paste(self, network: str, payload: dict[str, Any], offset: tuple[float, float],
              text: str = "Paste") -> list[str]:
        """Add a clipboard payload shifted by `offset`; returns the new node ids."""
        net = graph_of(self.document, network)
        try:
            payload, definitions = clipboard.definitions_to_add(self.document, payload)
        except NetCanvasError as exc:  # a clipboard written by something else
            self.refused.emit(f"cannot paste these blocks: {exc}")
            return []
        known = {name for name, _ in definitions}
        nodes, edges = clipboard.prepare_paste(
            net, payload, offset, lambda block: block in known or self.knows(block))
        if not nodes:
            return []
        command = (PasteWithBlocksCommand(self.document, network, nodes, edges, definitions, text)
                   if definitions else PasteCommand(self.document, network, nodes, edges, text))
        return command.node_ids if self.try_push(command) else []

    def knows(self, block: str) -> bool:
        """Whether a node of `block` can be added as it is (catalogue, own or built-in)."""
        try:
            self.document.resolve_block(block)
        except (NetCanvasError, KeyError):
            return False
        return True

    # ---- composites ---------------------------------------------------------------

    def group(self, network: str, node_ids: Sequence[str], name: str) -> bool:
        """Group the nodes into a new composite `name`, wired in their place."""
        from engine.composites import group

        ids = list(node_ids)
        return self.try_push(RegroupCommand(
            self.document, f"Group into {name}",
            lambda: group(self.document, network, ids, name)))

    def ungroup(self, network: str, node_id: str) -> bool:
        """Put a composite node's inner blocks back in its place."""
        from engine.composites import ungroup

        return self.try_push(RegroupCommand(
            self.document, f"Ungroup {node_id}", lambda: ungroup(self.document, network, node_id)))

    def make_editable(self, block: str) -> bool:
        """A built-in composite used without a copy here gets one (an undo step), so its
        definition can be opened and edited in this document."""
        if block in self.document.blocks:
            return True
        return self.try_push(ImportBlockCommand(self.document, block))

    def describe_block(self, block: str, text: str) -> bool:
        """Set the description a composite's tooltip and inspector show."""
        if self.document.blocks[block].doc == text:
            return False
        return self.try_push(BlockInfoCommand(self.document, block, f"Describe {block}",
                                              doc=text))

    def exposed_as(self, block: str, node_id: str, name: str) -> str | None:
        """The exposed parameter of `block` that sets `node_id.name`, if any."""
        target = f"{node_id}.{name}"
        return next((e.name for e in self.document.blocks[block].exposed
                     if target in e.targets), None)

    def expose(self, block: str, node_id: str, name: str) -> str | None:
        """Show an inner parameter on every use of `block` (its value now the default);
        returns the exposed name (the parameter's, or `node_param` when taken)."""
        from engine.composites import ExposedParam

        definition = self.document.blocks[block]
        node = definition.node(node_id)
        param = node.spec.param(name)
        taken = {e.name for e in definition.exposed}
        label = name if name not in taken else f"{node_id}_{name}"
        item = ExposedParam(label, param.kind, node.resolved_params()[name], param.doc,
                            [f"{node_id}.{name}"], param.min, param.max, param.choices)
        exposed = [*definition.exposed, item]
        ok = self.try_push(BlockInfoCommand(self.document, block, f"Expose {node_id}.{name}",
                                            exposed=exposed))
        return label if ok else None

    def unexpose(self, block: str, node_id: str, name: str) -> bool:
        """Stop setting `node_id.name` from the uses of `block` (its own value counts again)."""
        target = f"{node_id}.{name}"
        exposed = copy.deepcopy(self.document.blocks[block].exposed)
        for item in exposed:
            item.targets = [t for t in item.targets if t != target]
        kept = [e for e in exposed if e.targets]
        return self.try_push(BlockInfoCommand(self.document, block, f"Stop exposing {target}",
                                              exposed=kept))
