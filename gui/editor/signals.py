"""Engine `Event`s re-emitted as Qt signals: the one place the GUI subscribes to the model.

The scene, the inspector and the main window connect to these signals and
never to the engine's events directly, so closing a document is one
`close()` here and nothing dangles (DESIGN.md: "the GUI wraps it once").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.document import Document, Network
from engine.observer import Event


class _Bridge(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._subscriptions: list[tuple[Event, Callable[..., Any]]] = []

    def _wire(self, event: Event, signal: Any) -> None:
        callback = signal.emit
        event.sub(callback)
        self._subscriptions.append((event, callback))

    def close(self) -> None:
        """Stop listening to the model (the document is being closed)."""
        for event, callback in self._subscriptions:
            event.unsub(callback)
        self._subscriptions.clear()


class NetworkSignals(_Bridge):
    nodeAdded = Signal(object)  # Node
    nodeRemoved = Signal(object)  # Node
    edgeAdded = Signal(object)  # Edge
    edgeRemoved = Signal(object)  # Edge
    paramChanged = Signal(object, str)  # Node, parameter name
    nodeMoved = Signal(object)  # Node
    changed = Signal()

    def __init__(self, network: Network, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.network = network
        self._wire(network.node_added, self.nodeAdded)
        self._wire(network.node_removed, self.nodeRemoved)
        self._wire(network.edge_added, self.edgeAdded)
        self._wire(network.edge_removed, self.edgeRemoved)
        self._wire(network.param_changed, self.paramChanged)
        self._wire(network.node_moved, self.nodeMoved)
        self._wire(network.changed, self.changed)


class DocumentSignals(_Bridge):
    changed = Signal()
    trainingChanged = Signal(str)
    networksChanged = Signal()
    blocksChanged = Signal()  # a composite definition was added or removed

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._wire(document.changed, self.changed)
        self._wire(document.training_changed, self.trainingChanged)
        self._wire(document.networks_changed, self.networksChanged)
        self._wire(document.blocks_changed, self.blocksChanged)
