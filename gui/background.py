"""Run one engine call (an export, an import, a bundle save) off the GUI thread.

The GUI thread never exports or loads data itself; it starts a `BackgroundTask`
and hears back through Qt signals, delivered on its own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from engine.errors import NetCanvasError
from gui.gc_guard import guard_garbage_collection


class _Carrier(QObject):
    """Lives on the GUI thread; the pool thread emits, Qt queues the call across."""

    finished = Signal(object)
    failed = Signal(str)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], carrier: _Carrier) -> None:
        super().__init__()
        self.fn = fn
        self.carrier = carrier

    def run(self) -> None:
        try:
            result = self.fn()
        except NetCanvasError as exc:
            self.carrier.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - the person must hear about any failure
            self.carrier.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.carrier.finished.emit(result)


class BackgroundTasks(QObject):
    """Starts jobs on a private one-thread pool, so they run in order and never overlap."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        guard_garbage_collection()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._carriers: set[_Carrier] = set()

    def start(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
              on_error: Callable[[str], None]) -> None:
        carrier = _Carrier(self)
        self._carriers.add(carrier)

        @Slot(object)
        def done(result: Any) -> None:
            self._release(carrier)
            on_done(result)

        @Slot(str)
        def error(message: str) -> None:
            self._release(carrier)
            on_error(message)

        carrier.finished.connect(done)
        carrier.failed.connect(error)
        self.pool.start(_Job(fn, carrier))

    def _release(self, carrier: _Carrier) -> None:
        self._carriers.discard(carrier)
        carrier.deleteLater()

    def wait(self, msecs: int = -1) -> bool:
        """Block until queued jobs end (tests and window close only)."""
        return self.pool.waitForDone(msecs)
