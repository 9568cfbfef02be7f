"""The GUI's training worker leaves a core to the GUI only where there are more than two."""

from __future__ import annotations

import pytest

from gui.training import controller


@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 2), (3, 2), (16, 15), (None, 2)])
def test_worker_threads(monkeypatch, cores, threads):
    monkeypatch.setattr(controller.os, "cpu_count", lambda: cores)
    assert controller.worker_threads() == threads
