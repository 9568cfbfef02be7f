"""Shared test set-up: headless Qt, one torch thread, and the presets folder."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

torch.set_num_threads(1)

# Property tests draw the same examples on every machine and every run: CI must not turn red
# because a random draw found something new (run `pytest --hypothesis-profile=explore` for that).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")

# Window fixtures (`window`, `lenet`) and the autouse isolation of settings and recovery files.
pytest_plugins = ["tests.gui_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted((ROOT / "presets").glob("*.json"))


@pytest.fixture
def presets_dir() -> Path:
    return ROOT / "presets"


@pytest.fixture(scope="session", autouse=True)
def _clear_clipboard_at_exit():
    """Empty the clipboard before the interpreter exits: Qt would otherwise destroy the
    QMimeData the editor put there after Python has gone, and crash the run on exit."""
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()
