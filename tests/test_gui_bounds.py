"""The GUI side of a long run holds bounded memory: plot series and the event backlog."""

from __future__ import annotations

from collections import deque

from engine.training import Epoch, Step
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
