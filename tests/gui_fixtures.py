"""Fixtures the window tests share; a test module imports the ones it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import save_document
from gui.main_window import MainWindow
from gui.testing import FakeDialogs, isolate, sample_document


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Settings, recovery files and data under the test's own folder; no recovery prompt."""
    isolate(tmp_path, monkeypatch)


@pytest.fixture
def lenet(tmp_path) -> Path:
    """A LeNet document on disk (the tests own it; presets may change)."""
    path = tmp_path / "lenet.json"
    save_document(sample_document(), path)
    return path


@pytest.fixture
def window(qapp):
    win = MainWindow(FakeDialogs())
    win.resize(1300, 800)
    win.show()
    yield win
    win.dialogs.save_answer = "discard"
    win.close()
    win.deleteLater()
