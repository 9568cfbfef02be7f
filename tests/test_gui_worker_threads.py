"""A run from the window trains on the thread count `netcanvas train` uses, so it gives the
CLI's results; the training host's lower priority keeps the window served first instead of
a core left idle (which cost a quarter of the throughput on four cores)."""

from __future__ import annotations

import io

import torch

from engine.readwrite import document_bytes
from engine.training import Finished, RunOptions
from engine.training.host import EventWriter, Host
from gui.training.controller import TrainingController
from tests.helpers import iris_mlp


def test_the_window_asks_for_no_thread_count_of_its_own(qtbot):
    assert TrainingController().threads is None


def test_a_controllers_count_reaches_the_run_as_its_options(qtbot):
    controller = TrainingController(threads=1)
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        assert controller.start(iris_mlp(epochs=1), RunOptions()) == []
        assert controller._trainer.options.threads == 1
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        assert controller.start(iris_mlp(epochs=1), RunOptions(threads=2)) == []
        assert controller._trainer.options.threads == 2  # a run's own count wins


def test_each_job_starts_from_the_hosts_default_count(tmp_path):
    """An earlier run's count (or anything else that changed it) never carries over."""
    (tmp_path / "job.json").write_bytes(document_bytes(iris_mlp(epochs=1)))
    host = Host(EventWriter(io.StringIO()))
    previous = torch.get_num_threads()
    torch.set_num_threads(host.default_threads + 2)
    try:
        job = {"command": "run", "file": str(tmp_path / "job.json"),
               "out": str(tmp_path / "out.ncz"), "options": {}}
        assert isinstance(host.run_job(job), Finished)
        assert torch.get_num_threads() == host.default_threads
    finally:
        torch.set_num_threads(previous)
