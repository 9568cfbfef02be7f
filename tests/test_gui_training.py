"""The training controller: a real trainer in a QThread, events as signals, controls, failures."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.training import Activations, Failed, Finished, RunOptions, Started, Step
from gui.plots.panel import TrainingPanel
from gui.training.controller import IDLE, PAUSED, RUNNING, STOPPING, TrainingController, document_errors
from tests.helpers import chain_document, iris_mlp

TIMEOUT = 30_000


def diverging_document(folder):
    """A regression on the person's own .npz whose learning rate explodes the loss: the run
    trains in the training host, which sees files, not datasets registered in this process."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    np.savez(folder / "linear.npz", x=x, y=y)
    return chain_document([("Linear", {"out_features": 1})],
                          {"task": "regression", "loss": "mse",
                           "dataset": {"name": "npz", "path": str(folder / "linear.npz")},
                           "optimizer": {"name": "sgd", "lr": 1e6}, "epochs": 5, "batch_size": 20,
                           "device": "cpu"})


class Recorder:
    """Every event the controller emits, in order."""

    def __init__(self, controller: TrainingController) -> None:
        self.events: list = []
        controller.event.connect(self.events.append)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def controller(qtbot):
    ctrl = TrainingController()
    yield ctrl
    ctrl.shutdown(timeout_ms=10_000)
    assert not ctrl.is_running()


def test_run_emits_events_and_the_loss_curve_gets_points(qtbot, controller):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.connect_controller(controller)
    recorder = Recorder(controller)
    states: list[str] = []
    controller.state_changed.connect(states.append)
    doc = iris_mlp(epochs=3)
    panel.begin_run(doc)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT) as blocker:
        assert controller.start(doc, RunOptions()) == []
    finished, trained = blocker.args
    steps = recorder.of(Step)
    assert isinstance(recorder.events[0], Started) and recorder.events[-1] is finished
    assert steps and [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert isinstance(finished, Finished) and not finished.stopped
    assert len(panel.curves.tracks["loss"].raw) == len(steps)
    panel.curves.flush()
    assert len(panel.curves.tracks["loss"].raw_item.getData()[0]) == len(steps)
    assert trained is not doc and "main" in trained.weights and doc.weights == {}
    assert states == [RUNNING, IDLE] and not controller.is_running()


def test_pause_stops_step_events_and_resume_continues(qtbot, controller):
    recorder = Recorder(controller)
    assert controller.start(iris_mlp(epochs=5000)) == []
    qtbot.waitUntil(lambda: len(recorder.of(Step)) > 5, timeout=TIMEOUT)
    controller.pause()
    assert controller.state == PAUSED
    qtbot.wait(150)  # the step in flight when pause was pressed may still arrive
    with qtbot.assertNotEmitted(controller.step, wait=400):
        pass
    paused_at = len(recorder.of(Step))
    with qtbot.waitSignal(controller.step, timeout=TIMEOUT):
        controller.resume()
    assert controller.state == RUNNING
    qtbot.waitUntil(lambda: len(recorder.of(Step)) > paused_at + 3, timeout=TIMEOUT)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT):
        controller.stop()


def test_stop_returns_at_once_and_ends_the_thread(qtbot, controller):
    recorder = Recorder(controller)
    controller.start(iris_mlp(epochs=5000))
    thread = controller.thread
    qtbot.waitUntil(lambda: len(recorder.of(Step)) > 2, timeout=TIMEOUT)
    waits = []
    thread.wait = lambda *args: waits.append(args)  # the GUI thread must never wait on the worker
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT) as blocker:
        controller.stop()
        assert controller.state == STOPPING and waits == []
    assert waits == []  # not even for the thread's last instructions after `finished`
    assert blocker.args[0].stopped
    assert thread.isFinished() and not controller.is_running() and controller.state == IDLE
    assert "main" in blocker.args[1].weights


def test_the_worker_is_deleted_on_the_gui_thread_after_its_thread_ended(qtbot, controller):
    """A `deleteLater` run by the ending training thread raced the GUI thread dropping the
    last Python reference: the worker was deleted twice (a rare segfault in the suite)."""
    deleted_on = []
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT):
        controller.start(iris_mlp(epochs=2))
        controller._worker.destroyed.connect(lambda *_: deleted_on.append(threading.get_ident()),
                                             Qt.ConnectionType.DirectConnection)
    gc.collect()
    qtbot.waitUntil(lambda: bool(deleted_on), timeout=TIMEOUT)
    assert deleted_on == [threading.get_ident()]


def test_stop_while_paused_ends_the_run(qtbot, controller):
    recorder = Recorder(controller)
    controller.start(iris_mlp(epochs=5000))
    qtbot.waitUntil(lambda: len(recorder.of(Step)) > 2, timeout=TIMEOUT)
    controller.pause()
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT) as blocker:
        controller.stop()
    assert blocker.args[0].stopped


def test_a_nan_run_fails_with_a_message_and_the_next_run_works(qtbot, controller, tmp_path):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.connect_controller(controller)
    with qtbot.waitSignal(controller.failed, timeout=TIMEOUT) as blocker:
        controller.start(diverging_document(tmp_path))
    failed, trained = blocker.args
    assert isinstance(failed, Failed) and "loss became" in failed.message
    assert not controller.is_running()
    assert panel.progress.label.text().startswith("Failed: the loss became")
    assert all(np.isfinite(v.numpy()).all() for v in trained.weights["main"].values())
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT) as blocker:
        assert controller.start(iris_mlp(epochs=1)) == []
    assert not blocker.args[0].stopped


def test_a_new_run_can_start_from_the_finished_slot(qtbot, controller):
    """Finished is announced after the thread ended, so Run again works right there."""
    runs = []

    def again(event, doc):
        runs.append(event)
        if len(runs) == 1:
            assert controller.start(iris_mlp(epochs=1)) == []

    controller.finished.connect(again)
    controller.start(iris_mlp(epochs=1))
    qtbot.waitUntil(lambda: len(runs) == 2 and not controller.is_running(), timeout=TIMEOUT)


def test_shutdown_at_close_leaves_no_running_thread(qtbot):
    ctrl = TrainingController()
    recorder = Recorder(ctrl)
    ctrl.start(iris_mlp(epochs=5000))
    thread = ctrl.thread
    qtbot.waitUntil(lambda: len(recorder.of(Step)) > 2, timeout=TIMEOUT)
    assert ctrl.shutdown(timeout_ms=10_000)
    assert thread.isFinished() and not ctrl.is_running() and ctrl.state == IDLE
    assert ctrl.shutdown()  # idle: nothing to do


def test_run_refuses_a_document_with_errors(controller):
    doc = chain_document([("Conv2d", {"out_channels": 4, "kernel_size": 3})],
                         iris_mlp().training)
    errors = controller.start(doc)
    assert errors and errors == document_errors(doc) and "b0" in errors[0]
    assert not controller.is_running() and controller.state == IDLE


def test_an_unknown_task_is_refused_with_its_reason(controller):
    errors = controller.start(iris_mlp(task="telepathy"))
    assert errors and "telepathy" in errors[0] and not controller.is_running()


def test_watched_nodes_report_activations(qtbot, controller):
    controller.watch(["b0"])
    with qtbot.waitSignal(controller.activations, timeout=TIMEOUT) as blocker:
        controller.start(iris_mlp(epochs=2), RunOptions(activation_interval=0.0))
    event = blocker.args[0]
    assert isinstance(event, Activations) and event.tensors["b0"].shape == (16,)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=TIMEOUT)


def test_resume_continues_from_the_trained_copy(qtbot, controller):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT) as blocker:
        controller.start(iris_mlp(epochs=2))
    trained = blocker.args[1]
    recorder = Recorder(controller)
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT):
        controller.start(trained, RunOptions(resume=True, epochs=3))
    assert recorder.of(Started)[0].start_epoch == 2
    assert [e.epoch for e in recorder.events if type(e).__name__ == "Epoch"] == [3]


def test_starting_twice_is_a_programming_error(qtbot, controller):
    controller.start(iris_mlp(epochs=5000))
    with pytest.raises(RuntimeError):
        controller.start(iris_mlp())
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT):
        controller.stop()


def test_garbage_is_collected_only_on_the_gui_thread(qapp):
    """A collection in the training thread once finalised Qt objects there: Qt aborted."""
    import gc

    from gui.training.controller import TrainingController

    TrainingController()
    assert not gc.isenabled()
