"""Plot panels fed synthetic events: bounded buffers, what each panel draws, PNG renders.

Each panel is also rendered to /tmp/plots_*.png, to be looked at by a person.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from engine.training import Activations, Episode, Epoch, Failed, Finished, Samples, Started, Step
from gui.plots.buffers import Ema, Series
from gui.plots.curves import KEEP_RUNS, CurvePanel
from gui.plots.feature_maps import FeatureMapPanel
from gui.plots.panel import TrainingPanel
from gui.plots.progress import ProgressWidget, format_duration
from gui.plots.results import ResultsPanel
from gui.plots.rl import RLPanel
from gui.plots.samples import SamplesPanel
from gui.theme import apply_theme
from tests.helpers import iris_mlp

RNG = np.random.default_rng(0)


@pytest.fixture
def show(qtbot):
    """Show a widget at a readable size, themed like the application."""
    apply_theme(QApplication.instance())

    def _show(widget, size=(860, 600)):
        qtbot.addWidget(widget)
        widget.resize(*size)
        widget.show()
        return widget

    return _show


def render(widget, name: str) -> None:
    widget.flush()
    QApplication.processEvents()
    assert widget.grab().save(f"/tmp/plots_{name}.png")


def training_steps(panel: CurvePanel, count: int = 600, scale: float = 1.0, per_epoch: int = 60) -> None:
    for s in range(1, count + 1):
        loss = scale * 2.3 * np.exp(-s / 150) + 0.1 + abs(RNG.normal(0, 0.12)) * np.exp(-s / 400)
        panel.handle(Step(s, (s - 1) // per_epoch + 1, float(loss), 1e-3 if s < 400 else 3e-4, 900.0,
                          s / count))
        if s % per_epoch == 0:
            e = s // per_epoch
            panel.handle(Epoch(e, {"loss": scale * 2 * np.exp(-s / 160) + 0.12,
                                   "accuracy": 1 - 0.9 * np.exp(-s / 120)},
                               {"loss": scale * 2 * np.exp(-s / 180) + 0.2,
                                "accuracy": 1 - 0.9 * np.exp(-s / 140) - 0.03}, e / 10))


# ---- buffers ------------------------------------------------------------------------------


def test_series_decimates_to_its_cap_and_bulk_equals_one_by_one():
    one, bulk = Series(cap=100), Series(cap=100)
    xs = np.arange(1037.0)
    for x in xs:
        one.append(x, 2 * x)
    bulk.extend(xs[:7], 2 * xs[:7])
    bulk.extend(xs[7:], 2 * xs[7:])
    assert len(one) <= 100 and one.stride == 16
    assert np.array_equal(one.x, bulk.x) and np.array_equal(one.y, bulk.y)
    assert one.x[0] == 0 and one.tail()[0][-1] == 1036  # the newest point is always drawn


def test_ema_bulk_matches_one_by_one():
    values = RNG.random(50)
    one, bulk = Ema(0.9), Ema(0.9)
    expected = [one.update(v) for v in values]
    got = np.concatenate([bulk.update_many(values[:20]), bulk.update_many(values[20:])])
    assert np.allclose(expected, got) and expected[0] == pytest.approx(values[0])


# ---- curves -------------------------------------------------------------------------------


def test_curves_plot_steps_epochs_and_learning_rate(show):
    panel = show(CurvePanel())
    training_steps(panel)
    panel.flush()
    x, y = panel.tracks["loss"].raw_item.getData()
    assert len(x) == 600 and y[0] > y[-1]
    assert set(panel.epoch_items) == {("train", "loss"), ("val", "loss"), ("train", "accuracy"),
                                      ("val", "accuracy")}
    assert panel.lr_points[0] == (1.0, 1e-3) and panel.lr_points[-1] == (400.0, 3e-4)
    text = panel.describe_at(panel.loss_plot, 250.4)
    assert text.startswith("step 250: loss ") and "lr 0.001" in text
    assert panel.describe_at(panel.metric_plot, 3.2).startswith("epoch 3: ")
    panel.flush()
    QApplication.processEvents()
    panel._on_mouse((panel.loss_plot.vb.mapViewToScene(QPointF(300, 1.0)),))  # what SignalProxy passes
    assert panel.readout.text().startswith("step 300: loss ") and panel.lines[panel.lr_plot].isVisible()
    render(panel, "curves")
    panel.set_log(True)
    assert panel.loss_plot.ctrl.logYCheck.isChecked() and panel.log_box.isChecked()
    render(panel, "curves_log")


def test_previous_runs_of_the_same_document_stay_faded(show):
    panel = show(CurvePanel())
    panel.reset("classification", "a.json")
    training_steps(panel, scale=1.4)
    panel.reset("classification", "a.json")
    training_steps(panel)
    assert len(panel._ghosts) == 1
    render(panel, "curves_previous_runs")
    for _ in range(KEEP_RUNS + 2):
        panel.reset("classification", "a.json")
        training_steps(panel, count=60)
    assert len(panel._ghosts) == KEEP_RUNS
    panel.reset("classification", "b.json")
    assert not panel._ghosts and not panel.tracks


def test_gan_losses_get_one_curve_each(show):
    panel = show(CurvePanel())
    for s in range(1, 300):
        g, d = 2 + np.sin(s / 20) + RNG.normal(0, 0.2), 0.7 + RNG.normal(0, 0.1)
        panel.handle(Step(s, 1, g + d, 2e-4, 500.0, s / 300, {"generator": g, "discriminator": d}))
    assert set(panel.tracks) == {"generator", "discriminator"}
    render(panel, "curves_gan")


def test_a_million_points_stay_bounded_and_redraw_downsampled(show):
    panel = show(CurvePanel())
    n = 1_000_000
    steps = np.arange(1, n + 1, dtype=np.float64)
    panel.extend_steps(steps, np.exp(-steps / 2e5) + RNG.random(n) * 0.1, np.full(n, 1e-3))
    for s in range(n + 1, n + 2001):
        panel.handle(Step(s, 1, 0.2, 1e-3, 1000.0, 1.0))
    track = panel.tracks["loss"]
    assert len(track.raw) <= panel.cap and track.raw.nbytes <= 16 * (panel.cap + 1)
    assert len(track.smooth) <= 8192 and len(panel.lr_points) == 1
    for s in range(n + 2001, n + 2006):
        panel.handle(Step(s, 1, 0.2, 1e-3, 1000.0, 1.0))
        panel.flush()
        assert not panel.view.grab().isNull()
    # A redraw hands pyqtgraph at most the kept points, and pyqtgraph draws them clipped to
    # the view and downsampled: what keeps it fast (timed by benchmarks/gui_responsiveness.py).
    assert len(track.raw_item.xData) <= panel.cap + 1 and track.raw_item.xData[-1] == n + 2005
    assert track.raw_item.opts["clipToView"] and track.raw_item.opts["autoDownsample"]
    render(panel, "curves_million")


# ---- feature maps -------------------------------------------------------------------------


def test_feature_maps_follow_the_shape(show):
    panel = show(FeatureMapPanel())
    yy, xx = np.mgrid[0:24, 0:24]
    maps = np.stack([np.sin(xx / (2 + c % 5) + c) * np.cos(yy / (3 + c % 3)) for c in range(20)])
    panel.show_node("conv1", "Conv2d")
    panel.handle(Activations(120, {"conv1": maps.astype(np.float32), "fc": RNG.normal(size=10)}))
    panel.flush()
    assert panel.mode == "grid" and "20×24×24" in panel.title.text()
    rows, cols = panel.grid_image.image.shape[:2]
    assert rows >= 4 * 24 and cols >= 5 * 24
    render(panel, "features_grid")
    panel.show_node("fc", "Linear")
    panel.flush()
    assert panel.mode == "bars"
    render(panel, "features_vector")
    weights = np.exp(-((np.arange(12)[:, None] - np.arange(12)[None]) ** 2) / 6.0)
    panel.show_node("attn", "MultiheadAttention")
    panel.handle(Activations(130, {"attn": (weights / weights.sum(1, keepdims=True)).astype(np.float32)}))
    panel.flush()
    assert panel.mode == "heat" and "attention weights" in panel.title.text()
    render(panel, "features_attention")
    panel.handle(Activations(140, {"long": RNG.normal(size=500).astype(np.float32)}))
    panel.show_node("long")
    panel.flush()
    assert panel.mode == "heat" and "wrapped" in panel.title.text()
    panel.show_node("missing")
    panel.flush()
    assert panel.mode == "empty" and "Waiting" in panel.title.text()


# ---- RL, samples, results -----------------------------------------------------------------


def test_rl_episodes_plot_rewards_and_the_greedy_evaluation(show):
    panel = show(RLPanel(window=20))
    epsilon = 1.0
    for e in range(1, 401):
        epsilon = max(0.05, epsilon * 0.99)
        reward = float(max(8, min(500, 10 + e * 0.8 + RNG.normal(0, 30) * (1 + e / 200))))
        panel.handle(Episode(e, reward, int(reward), epsilon, e / 400, float(abs(RNG.normal(1 / (1 + e / 50), 0.1)))))
    panel.flush()
    x, y = panel.reward_item.getData()
    assert len(x) == 400
    mean_x, mean_y = panel.mean_item.getData()
    assert mean_y[-1] == pytest.approx(np.mean(y[-20:]))
    panel.handle(Finished({"eval_mean_reward": 312.5, "eval_success_rate": 0.8}, False, 12.0))
    panel.flush()
    assert panel.eval_line.isVisible() and panel.eval_line.value() == 312.5
    assert "mean reward 312.5" in panel.summary.text() and "80%" in panel.summary.text()
    render(panel, "rl")


def test_gan_samples_show_an_image_grid(show):
    panel = show(SamplesPanel())
    yy, xx = np.mgrid[0:28, 0:28]
    images = np.stack([np.tanh(3 * np.sin((xx + i) / 4) * np.cos((yy - i) / 5))[None] for i in range(36)])
    panel.handle(Samples(500, "generated", images.astype(np.float32)))
    panel.flush()
    image = panel.image.image
    assert image.ndim == 3 and image.shape[2] == 4 and image.shape[0] >= 6 * 28
    assert "values -1 to 1" in panel.title.text()
    render(panel, "samples_gan")


def test_autoencoder_pairs_and_gan_points(show):
    panel = show(SamplesPanel())
    originals = RNG.random((8, 1, 8, 8)).astype(np.float32)
    rebuilt = np.clip(originals + RNG.normal(0, 0.1, originals.shape), 0, 1).astype(np.float32)
    panel.handle(Samples(600, "reconstruction", rebuilt, originals))
    panel.flush()
    assert panel.image.image.shape[:2] == (8 + 1 + 8, 8 * 8 + 7)  # two rows of 8, 1-pixel gaps
    render(panel, "samples_reconstruction")
    theta = RNG.random(300) * 2 * np.pi
    real = np.c_[np.cos(theta), np.sin(theta)] + RNG.normal(0, 0.05, (300, 2))
    fake = 0.8 * np.c_[np.cos(theta), np.sin(theta)] + RNG.normal(0, 0.2, (300, 2))
    panel.handle(Samples(700, "points", fake.astype(np.float32), real.astype(np.float32)))
    panel.flush()
    assert len(panel.fake.data) == 300 and len(panel.real.data) == 300
    assert panel.stack.currentWidget() is panel.points_view
    render(panel, "samples_points")


def confusion_metrics(classes: int = 10) -> dict:
    matrix = np.diag(RNG.integers(30, 40, classes)) + RNG.integers(0, 3, (classes, classes))
    names = [str(i) for i in range(classes)]
    return {"confusion_matrix": matrix.tolist(), "class_names": names,
            "per_class_accuracy": {n: float(matrix[i, i] / matrix[i].sum()) for i, n in enumerate(names)},
            "test_accuracy": 0.93, "test_loss": 0.21, "val_accuracy": 0.94}


def test_confusion_matrix_and_per_class_accuracy(show):
    panel = show(ResultsPanel())
    metrics = confusion_metrics()
    panel.handle(Finished(metrics, False, 3.0))
    panel.flush()
    assert panel.matrix_image.image.shape[:2] == (10, 10)
    texts = [t.toPlainText() for _, t in panel.texts]
    assert str(metrics["confusion_matrix"][3][3]) in texts and len(texts) == 100 + 10
    assert "test accuracy 93.0%" in panel.summary.text()
    render(panel, "results")


# ---- the composed panel -------------------------------------------------------------------


def test_training_panel_shows_the_tabs_of_the_task(show):
    panel = show(TrainingPanel(), (900, 680))

    def visible() -> list[str]:
        return [panel.tabs.tabText(i) for i in range(panel.tabs.count()) if panel.tabs.isTabVisible(i)]

    panel.reset("dqn")
    assert visible() == ["Curves", "Feature maps", "Rewards"] and panel.tabs.currentWidget() is panel.rl
    panel.reset("gan")
    assert "Samples" in visible() and panel.tabs.currentWidget() is panel.samples
    panel.reset("classification", "lenet.json")
    panel.handle(Started("classification", "cpu", {"main": 100}, 10, 60))
    training_steps(panel.curves)
    panel.handle(Finished(confusion_metrics(), False, 40.0))
    assert panel.tabs.currentWidget() is panel.results
    assert panel.progress.label.text().startswith("Finished after 0:40")
    panel.tabs.setCurrentWidget(panel.curves)
    render(panel, "training_panel")
    panel.handle(Started("classification", "cpu", {"main": 100}, 10, 60))  # unannounced run
    assert not panel.curves.tracks and len(panel.curves._ghosts) == 1


def test_progress_shows_epoch_rate_and_eta(qtbot, monkeypatch):
    widget = ProgressWidget()
    qtbot.addWidget(widget)
    clock = iter([100.0, 110.0])
    monkeypatch.setattr("gui.plots.progress.time.monotonic", lambda: next(clock))
    widget.handle(Started("classification", "cpu", {"main": 1}, 10, 100))
    widget.handle(Step(1, 1, 1.0, 1e-3, 2000.0, 0.10))
    widget.handle(Step(200, 2, 1.0, 1e-3, 2000.0, 0.20))
    widget.update_text()
    text = widget.label.text()
    assert "epoch 2/10" in text and "step 200" in text and "samples/s" in text
    assert "ETA 1:20" in text and widget.bar.value() == 200
    widget.handle(Failed("the loss became nan at step 3"))
    assert widget.label.text() == "Failed: the loss became nan at step 3"
    assert format_duration(3725) == "1:02:05"


def test_an_opened_bundle_shows_its_curves_and_results(show):
    doc = iris_mlp()
    doc.metrics = {**confusion_metrics(3),
                   "history": {"epoch_train": [{"loss": 1.0, "accuracy": 0.5}, {"loss": 0.6, "accuracy": 0.8}],
                               "epoch_val": [{"loss": 1.1, "accuracy": 0.4}, {"loss": 0.7, "accuracy": 0.75}]}}
    panel = show(TrainingPanel())
    panel.show_document_results(doc)
    assert panel.curves.epochs[("val", "accuracy")] == [(1.0, 0.4), (2.0, 0.75)]
    assert panel.results.has_matrix and panel.tabs.currentWidget() is panel.results
