"""Issue 12, rough edge 5: the GAN's epoch losses are drawn, real points are grey as the
preset says, and legends sit beside the data instead of over it."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtWidgets import QApplication

from engine.presets import PRESETS_DIR
from engine.training import Epoch, Samples
from gui.plots import style
from gui.plots.curves import CurvePanel
from gui.plots.samples import SamplesPanel
from tests.test_gui_plots import show, training_steps  # noqa: F401  fixture


def test_gan_epoch_losses_are_drawn_on_loss_per_epoch(show):  # noqa: F811
    panel = show(CurvePanel())
    for epoch in range(1, 4):
        panel.handle(Epoch(epoch, {"generator": 1.0 / epoch, "discriminator": 0.7},
                           {"real": 0.6, "fake": 0.4}, epoch / 3))
    panel.flush()
    on_loss_plot = panel.epoch_plot.listDataItems()
    for key in ("generator", "discriminator"):
        item = panel.epoch_items[("train", key)]
        assert item in on_loss_plot and len(item.getData()[0]) == 3
    assert panel.epoch_items[("val", "real")] in panel.metric_plot.listDataItems()


def test_real_points_are_grey_as_the_gan_preset_says(show):  # noqa: F811
    text = json.loads((PRESETS_DIR / "gan_ring.json").read_text())["description"]
    assert "real (grey)" in text
    panel = show(SamplesPanel())
    points = np.zeros((4, 2), np.float32)
    panel.handle(Samples(1, "points", points, points))
    panel.flush()
    assert panel.real.opts["brush"].color().rgb() == style.color("grey").rgb()


def test_legends_do_not_cover_the_data(show):  # noqa: F811
    panel = show(CurvePanel())
    training_steps(panel)
    panel.flush()
    QApplication.processEvents()
    for plot, legend in panel.legends.items():
        assert legend.isVisible()
        assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect()), plot
