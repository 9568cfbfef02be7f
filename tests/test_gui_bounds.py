"""The GUI side of a long run holds bounded memory: plot series and the event backlog."""

from __future__ import annotations

from collections import deque

import numpy as np

from engine.training import Epoch, Started, Step
from gui.plots.buffers import DEFAULT_CAP, Series
from gui.training.controller import thinned


def _step(i: int) -> Step:
    return Step(i, 1, 1.0 / i, 1e-3, 100.0, i / 1000)


def test_a_backlog_drops_every_other_step_but_no_other_event_nor_the_newest_step():
    events = deque([_step(1), _step(2), Epoch(1, {}, {}, 0.5), _step(3), _step(4), _step(5)])
    kept = list(thinned(events))
    assert [e.step for e in kept if isinstance(e, Step)] == [1, 3, 5]
    assert kept[1] == events[2]  # the Epoch, in its place


def test_a_series_stops_growing_at_the_default_cap():
    series = Series()
    for i in range(3 * DEFAULT_CAP):
        series.append(float(i), 1.0)
    assert len(series) <= DEFAULT_CAP and series.nbytes <= 16 * (DEFAULT_CAP + 1)
    assert series.x[0] == 0.0 and series.tail()[0][-1] == 3 * DEFAULT_CAP - 1


def test_epoch_and_rate_points_stay_bounded_and_keep_the_recent_ones_exact():
    """A graph run has an epoch a step: its per-epoch curves grew without limit."""
    from gui.plots.curves import POINTS_CAP, append_bounded

    points: list[tuple[float, float]] = []
    for epoch in range(1, 10 * POINTS_CAP):
        append_bounded(points, (float(epoch), 1.0 / epoch))
    assert len(points) <= POINTS_CAP
    assert points[0][0] == 1.0  # the start of the run is still drawn
    assert [p[0] for p in points[-100:]] == [float(e) for e in range(10 * POINTS_CAP - 100, 10 * POINTS_CAP)]
    assert all(a[0] < b[0] for a, b in zip(points, points[1:], strict=False))


def test_a_run_of_steps_added_at_once_draws_what_one_at_a_time_draws(qtbot):
    """The controller hands the plots runs of Steps in one piece (a flood costs per piece)."""
    from gui.plots.curves import BULK_STEPS, CurvePanel

    steps = [Step(i, 1, 1.0 / i, 0.1 if i < 50 else 0.05, 100.0, i / 300) for i in range(1, 300)]
    one, bulk = CurvePanel(), CurvePanel()
    qtbot.addWidget(one)
    qtbot.addWidget(bulk)
    for step in steps:
        one.add_step(step)
    bulk.add_steps(steps[:5])  # a short run goes one by one
    bulk.add_steps(steps[5:])
    assert len(steps[5:]) >= BULK_STEPS
    for key in ("raw", "smooth"):
        a, b = getattr(one.tracks["loss"], key), getattr(bulk.tracks["loss"], key)
        assert np.array_equal(a.x, b.x) and np.allclose(a.y, b.y, rtol=1e-12)
    assert one.lr_points == bulk.lr_points and one.last_step == bulk.last_step


def test_the_controller_hands_runs_of_steps_over_in_one_piece_and_every_event_alone(qtbot):
    from gui.training.controller import TrainingController

    controller = TrainingController()
    started = Started("classification", "cpu", {"main": 1}, 1, 10)
    posted = [started, *(_step(i) for i in range(1, 6)), Epoch(1, {}, {}, 0.5), _step(6)]
    for event in posted:
        controller._mailbox.post(event)
    pieces, each = [], []
    controller.events.connect(pieces.append)
    controller.event.connect(each.append)
    controller._drain()
    assert each == posted
    assert [len(piece) for piece in pieces] == [1, 5, 1, 1]
    assert pieces[1] == posted[1:6]
