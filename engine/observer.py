"""A tiny pure-Python observer so the engine can notify views without Qt.

The GUI wraps each `Event` once and re-emits it as a Qt signal; the engine
itself never knows who listens (ryvencore's `Base.Event` pattern).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks that `emit` calls in subscription order."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def sub(self, callback: Callable[..., Any]) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def unsub(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        # Copy so a callback may unsubscribe itself while we iterate.
        for callback in list(self._callbacks):
            callback(*args)
