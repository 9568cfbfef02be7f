"""A run from the window trains on the thread count `netcanvas train` uses, so it gives the
CLI's results; the training host's lower priority keeps the window served first instead of
a core left idle (which cost a quarter of the throughput on four cores)."""

from __future__ import annotations

from engine.training.host import job_threads
from gui.training.controller import TrainingController


def test_the_window_asks_for_no_thread_count_of_its_own(qtbot):
    assert TrainingController().threads is None


def test_the_host_trains_at_torchs_default_unless_a_run_asks_otherwise():
    assert job_threads({"threads": None}, default=6) == 6
    assert job_threads({}, default=6) == 6
    assert job_threads({"threads": 1}, default=6) == 1  # tests pin one thread on both sides
