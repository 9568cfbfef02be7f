"""The GUI trains on 2 local processes: rank 0's events stream over a pipe and plot."""

from __future__ import annotations

import numpy as np

from engine.training import Epoch, Finished, RunOptions, Started, Step
from engine.training.event_stream import decode, encode
from engine.training.events import Samples
from gui.plots.panel import TrainingPanel
from gui.training.controller import TrainingController
from tests.helpers import iris_mlp


def test_events_survive_the_json_line_round_trip():
    images = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    for event in (Step(3, 1, 0.5, 1e-3, 100.0, 0.25, {"g": 1.0}),
                  Epoch(1, {"loss": 0.4}, {"accuracy": 0.9}, 0.5),
                  Samples(3, "generated", images, None), Finished({"test_accuracy": 0.9}, False, 1.5)):
        back = decode(encode(event))
        assert type(back) is type(event)
        if isinstance(event, Samples):
            np.testing.assert_array_equal(back.images, images)
        else:
            assert back == event


def test_a_two_process_run_from_the_gui_finishes_and_plots(qtbot):
    controller = TrainingController()
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.connect_controller(controller)
    seen: list = []
    controller.event.connect(seen.append)
    doc = iris_mlp(epochs=2, processes=2)
    panel.begin_run(doc)
    with qtbot.waitSignal(controller.finished, timeout=300_000) as blocker:
        assert controller.start(doc, RunOptions()) == []
    finished, trained = blocker.args
    assert isinstance(finished, Finished) and not finished.stopped
    assert isinstance(seen[0], Started) and [e.epoch for e in seen if isinstance(e, Epoch)] == [1, 2]
    steps = [e for e in seen if isinstance(e, Step)]
    assert steps and len(panel.curves.tracks["loss"].raw) == len(steps)  # rank 0's curve plotted
    assert set(trained.weights) == {"main"} and trained.train_state["epoch"] == 2
    controller.shutdown(timeout_ms=10_000)
