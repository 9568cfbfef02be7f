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

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = QUndoStack(self)
        self.signals = DocumentSignals(document, self)
        self.network_signals: dict[str, NetworkSignals] = {}
        self.checkers: dict[str, NetworkChecker] = {}
        self.reports: dict[str, NetworkReport] = {}
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
        self._sync_networks()
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

    # ---- checking --------------------------------------------------------------

    def schedule_check(self) -> None:
        self._timer.start()

    def check_now(self) -> None:
        """Bring every network's report up to date (incremental) and tell the views."""
        self._timer.stop()
        for name, checker in self.checkers.items():
            self.reports[name] = checker.report()
        self._check_task()
        self.checked.emit()

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
        command = AddNodeCommand(self.document, network, block, pos, params)
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
        net = self.document.network(network)
        if all(net.node(n).pos == tuple(p) for n, p in positions.items()):
            return False
        return self.try_push(MoveCommand(self.document, network, positions, gesture, text))

    def connect(self, network: str, source: str, target: str, unplug: Edge | None = None,
                ) -> bool:
        return self.try_push(ConnectCommand(self.document, network, source, target, unplug))

    def disconnect(self, network: str, edges: list[Edge]) -> bool:
        return bool(edges) and self.try_push(DisconnectCommand(self.document, network, edges))

    def set_param(self, network: str, node_id: str, name: str, value: Any) -> bool:
        node = self.document.network(network).node(node_id)
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
        net = self.document.network(network)
        nodes, edges = clipboard.prepare_paste(net, payload, offset)
        if not nodes:
            return []
        command = PasteCommand(self.document, network, nodes, edges, text)
        return command.node_ids if self.try_push(command) else []
