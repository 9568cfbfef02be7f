"""The window paints before torch loads; torch loads in the background; Run waits for it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.readwrite import save_document
from gui.app import EngineLoader, engine_ready_hook
from gui.main_window import MainWindow
from gui.testing import FakeDialogs
from tests.conftest import ROOT
from tests.helpers import iris_mlp

TIMEOUT_MS = 120_000


def _netcanvas(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
               "NETCANVAS_NO_RECOVERY_PROMPT": "1", "HOME": str(tmp_path),
               "XDG_CONFIG_HOME": str(tmp_path), **env}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environ,
                          cwd=tmp_path, timeout=600)


def test_window_paints_before_torch_then_loads_it_in_the_background(tmp_path):
    done = _netcanvas(["-m", "engine.cli"], tmp_path, NETCANVAS_STARTUP_TRACE="exit")
    trace = [ln.split()[1:3] for ln in done.stderr.splitlines() if ln.startswith("netcanvas-trace")]
    assert done.returncode == 0, done.stderr
    assert trace == [["first-paint", "torch_loaded=False"], ["engine-ready", "ok=True"]], done.stderr


def test_screenshot_never_loads_torch(tmp_path):
    probe = ("import sys; from engine.cli import main; code = main(sys.argv[1:]); "
             "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(code)")
    done = _netcanvas(["-c", probe, "--screenshot", str(tmp_path / "shot.png")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_loader_reports_a_module_that_cannot_load(qtbot):
    loader = EngineLoader(("json", "no_such_module_for_netcanvas"))
    with qtbot.waitSignal(loader.loaded, timeout=TIMEOUT_MS) as blocker:
        loader.start()
    ok, reason = blocker.args
    assert ok is False and "no_such_module_for_netcanvas" in reason


@pytest.fixture
def window(qapp, tmp_path):
    win = MainWindow(FakeDialogs(), persist=False)
    win.show()
    path = tmp_path / "iris.json"
    save_document(iris_mlp(epochs=1), path)
    assert win.open_path(str(path))
    yield win
    win.dialogs.save_answer = "discard"
    win.close()
    win.deleteLater()


def test_run_waits_for_pytorch_and_starts_when_it_has_loaded(window, qtbot):
    ready = engine_ready_hook(window)
    ready(False)
    run = window.run_control.run_action
    assert "loading PyTorch…" in run.text()
    run.trigger()  # pressed while loading: remembered, nothing blocks, nothing starts yet
    controller = window.run_control.controller
    assert not controller.is_running()
    assert "PyTorch" in window.statusBar().currentMessage()
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        ready(True)  # the queued run starts now
        assert "loading" not in run.text()
    assert window.session.document.weights


def test_a_preset_named_on_the_command_line_opens_as_a_template(qapp, tmp_path, monkeypatch):
    from engine.presets import resolve
    from gui.app import dispose, open_window

    monkeypatch.chdir(tmp_path)
    path, _ = resolve("gan_ring")
    win, opened = open_window(str(path), recover=False, dialogs=FakeDialogs(), persist=False)
    try:
        assert opened and win.template and win.path is None  # Save asks for a new file
        assert win.session.document.name.startswith("GAN")
    finally:
        dispose(win)
