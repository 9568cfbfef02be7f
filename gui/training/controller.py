"""Runs a training in a child process and hands its events to the GUI thread as signals.

The window's side of a run, in full:

    controller = TrainingController(parent=window)
    panel.connect_controller(controller)        # plots listen to `event`
    controller.finished.connect(window.on_trained)   # (Finished, trained_doc)
    controller.failed.connect(window.on_failed)      # (Failed, trained_doc)
    controller.state_changed.connect(window.update_actions)  # idle/running/paused/stopping

    errors = controller.start(doc, RunOptions(device="auto"))   # [] when it started
    if errors: show them (Run refuses a document whose check has errors)
    controller.pause() / resume() / stop()       # never block the GUI thread
    controller.watch([node_id])                  # feature maps of the selected node
    controller.shutdown()                        # in closeEvent: stop and wait, bounded

Why it is built this way:
- The training runs in the training host, a child process (engine/training/host.py,
  driven by engine/training/child_run.py): in a thread of this process it shared
  one interpreter with the window and reached only 0.6-0.7x of `netcanvas train`
  on two cores. A QThread of this process reads the host's events off the pipe.
- `start` trains a copy of the document (`Document.copy`, plus the trained state
  when resuming), so edits made in the editor during a run can never reach the
  run; the trained copy comes back with `finished`/`failed` (its weights, metrics
  and resume state read back from the host), and the window decides what to keep.
- The reader appends events to a locked deque and wakes the GUI only for the
  first event since the GUI last collected; collections are at least
  COLLECT_DELAY_MS apart. A trainer doing thousands of steps a second thus costs
  the GUI at most ~100 wake-ups a second (the host writes 25 times a second)
  instead of one queued Qt event per step, and the GUI re-emits the events
  within a time budget, so a backlog never blocks painting.
- `finished`/`failed` are emitted only once the thread has ended, so a slot that
  reacts by pressing Run again (or closing) finds the controller idle.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import QDeadlineTimer, QObject, Qt, QThread, QTimer, Signal, Slot

import engine
from engine.document import Document
from engine.errors import NetCanvasError
from engine.training import (
    Activations,
    Checkpoint,
    Episode,
    Epoch,
    Failed,
    Finished,
    Samples,
    Started,
    Step,
)
from gui.gc_guard import guard_garbage_collection
from gui.training.subprocess_source import process_run, processes

if TYPE_CHECKING:  # torch and the trainers load in the background after the first paint
    from engine.training import RunOptions
    from engine.training.child_run import ChildRun
    from engine.training.event_stream import ProcessRun

    Run = ChildRun | ProcessRun

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"
COLLECT_DELAY_MS = 10  # collections are at least this far apart: ≤ 100 a second
DRAIN_BUDGET_S = 0.008  # GUI time spent re-emitting events per turn before yielding to paint/input
THREAD_END_POLL_MS = 2  # after `finished`, how soon to look whether the thread has ended
KILLED_READER_WAIT_MS = 2000  # after killing a run at close, how long its reading thread may take
# Collected events waiting for the GUI: past this, every other Step is dropped (the curves are
# decimated anyway), so a trainer faster than the GUI cannot grow memory without bound.
MAX_BACKLOG = 20_000
STEP_RUN = 1024  # the most Steps handed to `events` listeners in one piece
_ABANDONED: list[tuple[QThread, QObject]] = []  # threads that outlived shutdown; never destroyed


def document_errors(doc: Document) -> list[str]:
    """The check's error lines ("main.conv1 (Conv2d): ..."); empty means the document may run."""
    try:
        return list(engine.check(doc).errors)
    except NetCanvasError as exc:
        return [str(exc)]


class _Mailbox:
    """The worker-to-GUI queue; plain Python so it outlives the worker's QObject.

    `armed` is set when the GUI has been woken and has not collected yet: events
    posted meanwhile ride along without another wake-up.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: deque = deque()
        self.armed = False

    def post(self, event: object) -> bool:
        """Queue an event; True when the GUI must be woken to collect it."""
        with self.lock:
            self.queue.append(event)
            wake, self.armed = not self.armed, True
        return wake

    def collect(self) -> list:
        """Everything queued; the next post wakes the GUI again."""
        with self.lock:
            events = list(self.queue)
            self.queue.clear()
            self.armed = False
        return events


class _Worker(QObject):
    """Lives in the reading thread; iterates the run's events and mails them."""

    wake = Signal()  # the GUI should collect the mailbox
    done = Signal()

    def __init__(self, trainer: Run, mailbox: _Mailbox, record=None) -> None:
        super().__init__()  # no parent: moveToThread silently fails on parented objects
        self.trainer = trainer
        self.mailbox = mailbox
        self.record = record  # (trainer, events) -> events: the run store's recorder, in this thread

    def post(self, event: object) -> None:
        if self.mailbox.post(event):
            self.wake.emit()

    @Slot()
    def run(self) -> None:
        try:
            events = self.trainer.run()
            if self.record is not None:
                events = self.record(self.trainer, events)
            for event in events:
                self.post(event)
        except BaseException as exc:  # noqa: BLE001 - the GUI must hear of any end
            self.post(Failed(f"training failed: {type(exc).__name__}: {exc}", self.trainer.step))
        finally:
            self.done.emit()


class TrainingController(QObject):
    """One run at a time; see the module docstring for how a window wires it."""

    event = Signal(object)  # every event, in order (Finished/Failed after the thread ended)
    # The same events in pieces, for listeners that take a flood in bulk (the plots): a run of
    # consecutive Steps as one list, anything else alone (Finished/Failed too, as on `event`).
    events = Signal(object)
    started = Signal(object)  # Started
    step = Signal(object)  # Step
    epoch = Signal(object)  # Epoch
    episode = Signal(object)  # Episode
    activations = Signal(object)  # Activations
    samples = Signal(object)  # Samples
    checkpoint = Signal(object)  # Checkpoint
    finished = Signal(object, object)  # Finished, the trained copy of the document
    failed = Signal(object, object)  # Failed, the copy (its weights are the last finite ones)
    state_changed = Signal(str)  # idle, running, paused, stopping

    def __init__(self, parent: QObject | None = None, threads: int | None = None) -> None:
        super().__init__(parent)
        self._collector = guard_garbage_collection()
        self._holding = False  # the collector defers full collections while a run lives
        # Every run's RunOptions.threads unless it sets its own; None: the engine's choice
        # (torch's default, or one thread for a small step), as `netcanvas train` makes it, so
        # a run from the window gives the CLI's results. The host's lower priority, not a
        # core left idle, is what keeps the window served first.
        self.threads = threads
        self._state = IDLE
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._trainer: Run | None = None
        self._doc: Document | None = None
        self._final: Finished | Failed | None = None
        self._mailbox = _Mailbox()
        self._backlog: deque = deque()  # collected, not yet re-emitted
        self._last_drain = 0.0  # perf_counter of the last collection
        self._watch: list[str] = []
        self.record_run = None  # set by the window: gui.runs.recording.record_in_store
        self._drain_timer = QTimer(self, singleShot=True)
        self._drain_timer.timeout.connect(self._drain)
        self._signals = {Started: self.started, Step: self.step, Epoch: self.epoch,
                         Episode: self.episode, Activations: self.activations,
                         Samples: self.samples, Checkpoint: self.checkpoint}

    # ---- queries ----------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    def is_running(self) -> bool:
        """True from start until the thread has ended (paused and stopping included)."""
        return self._thread is not None

    @property
    def thread(self) -> QThread | None:
        return self._thread

    @property
    def document(self) -> Document | None:
        """The copy being trained (or last trained); never the editor's document."""
        return self._doc

    # ---- controls -----------------------------------------------------------------

    def start(self, doc: Document, options: RunOptions | None = None) -> list[str]:
        """Check, copy and start training; returns the reasons it refused, or [] once started."""
        if self.is_running():
            raise RuntimeError("a run is already in progress; stop it first")
        errors = document_errors(doc)
        if errors:
            return errors
        from engine.training import RunOptions
        from engine.training.child_run import ChildRun
        from engine.training.registry import trainer_factory

        options = copy.copy(options) if options is not None else RunOptions()
        if not list(options.watch):
            options.watch = list(self._watch)
        twin = doc.copy(with_state=options.resume)
        try:
            trainer_factory(twin)  # an unknown task is refused now, not by the host
            if self.threads is not None and options.threads is None:
                options.threads = self.threads
            trainer = ChildRun(twin, options) if processes(twin) == 1 else \
                process_run(twin, options)  # N processes: torchrun's rank 0 streams events
        except NetCanvasError as exc:
            return [str(exc)]
        self._launch(twin, trainer)
        return []

    def _launch(self, doc: Document, trainer: Run) -> None:
        self._doc, self._trainer, self._final = doc, trainer, None
        self._mailbox = _Mailbox()
        thread = QThread()
        thread.setObjectName("netcanvas-training")
        worker = _Worker(trainer, self._mailbox, self.record_run)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: quit from the worker's own thread, so it ends even while the GUI waits in shutdown.
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)
        # No `worker.deleteLater`: it ran in the ending thread while the GUI thread dropped
        # the Python reference, deleting the worker twice (a rare segfault in the tests).
        # Python owns both objects and lets go only once the thread has really ended.
        thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.QueuedConnection)
        self._thread, self._worker = thread, worker
        self._hold_collections(True)
        self._set_state(RUNNING)
        thread.start()

    @Slot()
    def pause(self) -> None:
        if self._trainer is not None and self._state == RUNNING:
            self._trainer.pause()
            self._set_state(PAUSED)

    @Slot()
    def resume(self) -> None:
        if self._trainer is not None and self._state == PAUSED:
            self._trainer.resume()
            self._set_state(RUNNING)

    @Slot()
    def stop(self) -> None:
        """Ask the trainer to stop after its current step; returns at once."""
        if self._trainer is not None and self._state in (RUNNING, PAUSED):
            self._trainer.stop()
            self._set_state(STOPPING)

    def watch(self, node_ids: list[str] | tuple[str, ...]) -> None:
        """Nodes whose activations are reported, now and in later runs (replaces the set)."""
        self._watch = list(node_ids)
        if self._trainer is not None:
            self._trainer.watch(self._watch)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """For window close only: stop and wait (bounded); a run that does not stop in time
        is killed. False if even the reading thread outlived the wait."""
        thread = self._thread
        if thread is None:
            return True
        if self._trainer is not None:
            self._trainer.stop()
        self._set_state(STOPPING)
        if not thread.wait(QDeadlineTimer(timeout_ms)) and self._trainer is not None:
            getattr(self._trainer, "kill", lambda: None)()  # the pipe ends, and so does the thread
        if not thread.wait(QDeadlineTimer(KILLED_READER_WAIT_MS)):
            # Destroying a running QThread aborts the process: keep it alive until exit.
            _ABANDONED.append((thread, self._worker))
            self._thread = self._worker = self._trainer = None
            self._hold_collections(False)
            self._set_state(IDLE)
            return False
        self._finish(thread)
        return True

    # ---- the GUI side of the mailbox -------------------------------------------------

    @Slot()
    def _on_wake(self) -> None:
        """Collect now if the last collection is COLLECT_DELAY_MS old (the training host
        already gathers events into 25 writes a second; one wake-up each, not two), else
        when it will be: a source writing every line on its own still wakes the GUI at
        most ~100 times a second."""
        if self._drain_timer.isActive():
            return
        wait_ms = COLLECT_DELAY_MS - 1000 * (time.perf_counter() - self._last_drain)
        if wait_ms <= 0:
            self._drain()
        else:
            self._drain_timer.start(int(wait_ms) + 1)

    @Slot()
    def _drain(self) -> None:
        """Re-emit collected events for at most DRAIN_BUDGET_S, then let the GUI paint."""
        self._last_drain = time.perf_counter()
        self._backlog.extend(self._mailbox.collect())
        if len(self._backlog) > MAX_BACKLOG:
            self._backlog = thinned(self._backlog)
        began = time.perf_counter()
        while self._backlog and time.perf_counter() - began < DRAIN_BUDGET_S:
            # A piece at a time: an Epoch or an Activations costs far more than a Step.
            self._dispatch(self._next_piece())
        if self._backlog:
            self._drain_timer.start(0)

    def _next_piece(self) -> list:
        """The backlog's next event, or its next run of Steps (at most STEP_RUN)."""
        piece = [self._backlog.popleft()]
        if isinstance(piece[0], Step):
            while self._backlog and isinstance(self._backlog[0], Step) and len(piece) < STEP_RUN:
                piece.append(self._backlog.popleft())
        return piece

    def _dispatch(self, piece: list) -> None:
        if isinstance(piece[0], Finished | Failed):
            self._final = piece[0]  # announced once the thread has ended
            return
        for event in piece:
            self.event.emit(event)
            signal = self._signals.get(type(event))
            if signal is not None:
                signal.emit(event)
        self.events.emit(piece)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if thread is not None and thread is self._thread:
            self._finish_when_ended(thread)

    def _finish_when_ended(self, thread: QThread) -> None:
        """`finished` precedes the thread's last instructions: look again shortly rather
        than wait (the GUI thread never waits on the worker), then finish."""
        if thread is not self._thread:
            return  # shutdown finished it meanwhile
        if not thread.isFinished():
            QTimer.singleShot(THREAD_END_POLL_MS, lambda: self._finish_when_ended(thread))
            return
        self._finish(thread)

    def _finish(self, thread: QThread) -> None:
        """Deliver what is left, go idle, then announce the result (the thread has ended)."""
        self._drain_timer.stop()
        self._backlog.extend(self._mailbox.collect())
        while self._backlog:
            self._dispatch(self._next_piece())
        final = self._final or Failed("training ended without reporting a result")
        doc = self._doc
        self._thread = self._worker = self._trainer = self._final = None
        self._hold_collections(False)
        self._set_state(IDLE)
        self.event.emit(final)
        self.events.emit([final])
        if isinstance(final, Finished):
            self.finished.emit(final, doc)
        else:
            self.failed.emit(final, doc)

    def _hold_collections(self, hold: bool) -> None:
        """A full garbage collection stalls the GUI ~80 ms: none while this run lives."""
        if hold != self._holding:
            self._holding = hold
            (self._collector.hold if hold else self._collector.release)()

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)


def thinned(events: deque) -> deque:
    """Every other Step dropped, every other event (and the newest Step) kept, in order."""
    steps = [i for i, event in enumerate(events) if isinstance(event, Step)]
    dropped = set(steps[-2::-2])  # from the second newest back: the newest stays
    return deque(event for i, event in enumerate(events) if i not in dropped)


__all__ = ["TrainingController", "document_errors", "thinned",
           "IDLE", "RUNNING", "PAUSED", "STOPPING"]
