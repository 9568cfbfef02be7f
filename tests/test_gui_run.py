"""The window trains, exports and imports through background threads (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.readwrite import save_document
from gui.main_window import MainWindow
from gui.plots.curves import CurvePanel
from gui.testing import FakeDialogs
from tests.helpers import chain_document, iris_mlp

TIMEOUT_MS = 60_000


def _arrays(folder, poison: bool) -> dict:
    """The person's own .npz (the training host sees files, not datasets registered here)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2)).astype(np.float32)
    y = x[:, :1] * 2
    if poison:
        x[:, 0] = np.nan  # a NaN loss from the very first step
    path = folder / f"{'nan' if poison else 'clean'}.npz"
    np.savez(path, x=x, y=y)
    return {"name": "npz", "path": str(path)}


@pytest.fixture
def window(qapp, tmp_path):
    win = MainWindow(FakeDialogs(), persist=False)
    win.resize(1300, 800)
    win.show()
    path = tmp_path / "iris.json"
    save_document(iris_mlp(epochs=3), path)
    assert win.open_path(str(path))
    yield win
    win.run_control.shutdown()
    win.tasks.wait(10_000)
    win.dialogs.save_answer = "discard"
    win.close()
    win.deleteLater()


def test_run_trains_locks_editing_and_keeps_the_weights(window, qtbot):
    controller = window.run_control.controller
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        window.run_control.run_action.trigger()
        assert window.session.locked
        assert not window.run_control.run_action.isEnabled() and window.run_control.stop_action.isEnabled()
        assert not window.session.remove("main", ["b0"], [])  # edits refused mid-run
    doc = window.session.document
    assert set(doc.weights) == {"main"} and doc.train_state["epoch"] == 3
    assert window.isWindowModified() and window.trained_unsaved
    assert window.run_control.run_action.isEnabled()
    assert not window.session.locked
    assert "Finished" in window.log.toPlainText()
    assert window.run_control.panel.curves._has_data()


def test_run_refuses_a_document_with_errors(window, qtbot):
    window.session.document.network("main").set_param("b0", "out_features", 0)
    assert not window.run_control.run()
    assert window.dialogs.errors and "b0" in window.dialogs.errors[-1][1]
    assert not window.run_control.controller.is_running()


def test_save_trained_model_then_reopen_shows_weights(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.run_control.controller.finished, timeout=TIMEOUT_MS):
        window.run_control.run()
    bundle = tmp_path / "trained.ncz"
    window.dialogs.next_save = str(bundle)
    window.exports.save_trained_action.trigger()
    window.tasks.wait(TIMEOUT_MS)
    qtbot.waitUntil(lambda: bundle.exists(), timeout=TIMEOUT_MS)
    assert window.open_path(str(bundle))
    assert set(window.session.document.weights) == {"main"}
    assert not window.run_control.continue_action.isEnabled()  # its epochs are all done
    window.session.document.training["epochs"] = 5  # (as the Training editor would set it)
    window.run_control.update_actions("idle")
    assert window.run_control.continue_action.isEnabled()
    with qtbot.waitSignal(window.run_control.controller.finished, timeout=TIMEOUT_MS):
        window.run_control.continue_action.trigger()
    assert window.session.document.train_state["epoch"] == 5


def test_export_onnx_runs_in_the_background(window, qtbot, tmp_path):
    target = tmp_path / "iris.onnx"
    window.dialogs.next_save = str(target)
    assert window.exports.export_as("onnx")
    qtbot.waitUntil(lambda: target.exists() and "onnxruntime matches" in window.log.toPlainText(),
                    timeout=TIMEOUT_MS)
    assert window.dialogs.errors == []


def test_import_pytorch_module_opens_it_as_a_document(window, qtbot, tmp_path):
    source = tmp_path / "tiny.py"
    source.write_text(
        "from torch import nn\n\n"
        "class Tiny(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(x).relu()\n", encoding="utf-8")
    window.dialogs.next_import = (f"{source}:Tiny", "4")
    assert window.exports.import_module_dialog()
    qtbot.waitUntil(lambda: "fc" in window.session.document.network("main").nodes,
                    timeout=TIMEOUT_MS)
    blocks = {n.block for n in window.session.document.network("main").nodes.values()}
    assert {"Linear", "ReLU"} <= blocks


def test_failed_run_is_reported_and_the_next_run_works(window, qtbot, tmp_path):
    doc = chain_document([("Linear", {"out_features": 1})],
                         {"task": "regression", "dataset": _arrays(tmp_path, poison=True), "loss": "mse",
                          "epochs": 5,
                          "optimizer": {"name": "sgd", "lr": 0.01}, "device": "cpu"})
    window.set_document(doc, None)
    with qtbot.waitSignal(window.run_control.controller.failed, timeout=TIMEOUT_MS):
        window.run_control.run()
    assert window.dialogs.errors and "Training failed" == window.dialogs.errors[-1][0]
    assert "at step 1" in window.dialogs.errors[-1][1]
    window.session.document.training["dataset"] = _arrays(tmp_path, poison=False)
    with qtbot.waitSignal(window.run_control.controller.finished, timeout=TIMEOUT_MS):
        assert window.run_control.run()


@pytest.mark.parametrize("size", [(647, 72), (647, 30), (30, 30)])
def test_curve_panel_survives_squeezed_sizes(qtbot, size):
    """A dock squeezed to a few pixels once crashed the grid painter (PySide6 6.11)."""
    panel = CurvePanel()
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    assert not panel.grab().isNull()


def _run_preset(window, qtbot, name: str, **training) -> None:
    from engine.presets import load_preset

    doc = load_preset(name)
    doc.training.update(training, device="cpu")
    window.set_document(doc, None)
    with qtbot.waitSignal(window.run_control.controller.finished, timeout=TIMEOUT_MS):
        assert window.run_control.run()
    window.run_control.panel.flush()


def test_the_rl_preset_plots_rewards_and_the_evaluation(window, qtbot):
    _run_preset(window, qtbot, "dqn_cartpole", epochs=6,
                dqn={"learning_starts": 50, "eval_episodes": 2})
    rl = window.run_control.panel.rl
    assert len(rl.rewards) == 6 and rl.evaluation.get("eval_episodes") == 2
    assert "eval_mean_reward" in window.session.document.metrics


def test_the_gan_preset_shows_generated_samples(window, qtbot):
    _run_preset(window, qtbot, "gan_ring", epochs=2)
    samples = window.run_control.panel.samples
    assert window.run_control.panel.tabs.isTabVisible(window.run_control.panel.tabs.indexOf(samples))
    assert samples.latest is not None and samples.latest.kind == "points"
    assert samples.stack.currentWidget() is samples.points_view
    assert len(samples.fake.getData()[0]) == len(samples.latest.images) > 0


def test_quitting_after_a_copy_exits_cleanly(tmp_path):
    """Qt once freed the clipboard's QMimeData after Python had gone: a crash on every exit."""
    import os
    import subprocess
    import sys

    script = (
        "from PySide6.QtCore import QTimer\n"
        "from gui.app import make_app\n"
        "from gui.main_window import MainWindow\n"
        "from gui.testing import FakeDialogs, sample_document\n"
        "app = make_app()\n"
        "w = MainWindow(FakeDialogs(), persist=False)\n"
        "w.set_document(sample_document(), None)\n"
        "w.current_scene().select_nodes(['conv1'])\n"
        "assert w.copy_selection()\n"
        "QTimer.singleShot(0, w.close)\n"
        "QTimer.singleShot(10, app.quit)\n"
        "app.exec()\n"
        "print('clean')\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NETCANVAS_SETTINGS": str(tmp_path / "s.ini")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "clean" in done.stdout and "Cannot add dynamic method" not in done.stderr


def test_import_an_onnx_model_opens_it_as_a_document(window, qtbot, tmp_path):
    """File ▸ Import Model takes an .onnx file as well as a .py module (it offered only .py)."""
    from engine.export import export_onnx

    doc = chain_document([("Linear", {"out_features": 3}), ("ReLU", {})],
                         {"task": "regression", "dataset": _arrays(tmp_path, poison=True), "loss": "mse"})
    path = export_onnx(doc, "main", tmp_path / "tiny.onnx").path
    window.dialogs.next_import = (str(path), "")
    assert window.exports.import_module_dialog()
    qtbot.waitUntil(lambda: any(n.block == "Linear" for n in
                                window.session.document.network("main").nodes.values()),
                    timeout=TIMEOUT_MS)
