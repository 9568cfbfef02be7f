"""What a generative model makes: GAN samples, autoencoder reconstructions, 2-D point clouds.

`handle(Samples)` shows the newest batch, by its kind:
- "generated": a grid of images (K, C, H, W), grey for one channel, RGB for three;
- "reconstruction": originals on top, their reconstructions right below each;
- "points": real points (`inputs`) and generated ones (`images`) on one scatter,
  the first two coordinates if there are more.
Images keep the trainer's scale when it is [0, 1] or [-1, 1] (tanh outputs),
so a GAN's early grey noise looks grey instead of being stretched to full contrast.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from engine.training import Samples
from gui.plots import style
from gui.plots.base import PlotPanel

MAX_IMAGES = 64
HINT = "Generated samples and reconstructions appear here while a GAN or an autoencoder trains."


def value_range(*arrays: np.ndarray) -> tuple[float, float]:
    """[0, 1] or [-1, 1] when the values fit them, else their own min and max."""
    lo = min(float(np.nanmin(a)) for a in arrays)
    hi = max(float(np.nanmax(a)) for a in arrays)
    if lo >= -1e-3 and hi <= 1 + 1e-3:
        return 0.0, 1.0
    if lo >= -1 - 1e-3 and hi <= 1 + 1e-3:
        return -1.0, 1.0
    return lo, hi if hi > lo else lo + 1e-6


def as_images(batch: np.ndarray) -> np.ndarray:
    """(K, C, H, W) or (K, D) -> (K, H, W) grey or (K, H, W, 3) colour."""
    batch = np.asarray(batch, dtype=np.float32)
    if batch.ndim == 2:
        return batch[:, None, :]
    if batch.ndim == 3:
        return batch
    if batch.shape[1] == 3:
        return batch.transpose(0, 2, 3, 1)
    return batch[:, 0]


def image_mosaic(batch: np.ndarray, lo: float, hi: float, columns: int | None = None) -> np.ndarray:
    """A tiled RGBA picture of the batch; gaps take the background colour."""
    images = as_images(batch)
    pad = max(1, images.shape[2] // 14)
    grid = style.tile(images, columns=columns, pad=pad)
    if grid.ndim == 2:
        return style.colorize(grid, lo, hi, colormap="CET-L1")
    scaled = np.clip((grid - lo) / (hi - lo), 0, 1)
    rgba = np.empty(grid.shape[:2] + (4,), dtype=np.uint8)
    rgba[..., :3] = np.nan_to_num(scaled * 255)
    rgba[..., 3] = 255
    rgba[np.isnan(grid).any(axis=-1)] = QColor(style.BACKGROUND).getRgb()
    return rgba


class SamplesPanel(PlotPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.latest: Samples | None = None
        self.title = QLabel(HINT)
        self.title.setWordWrap(True)
        self.title.setStyleSheet(f"color: {style.PANEL_TEXT}; padding: 3px 6px;")
        self.image_view = style.graphics_layout()
        self.image_plot = self.image_view.ci.addPlot()
        self.image = style.image_plot(self.image_plot)
        self.points_view = style.graphics_layout()
        self.points_plot = style.style_plot(self.points_view.ci.addPlot(), "", "x₁", "x₂")
        style.legend(self.points_plot)
        self.real = pg.ScatterPlotItem(size=5, pen=None, brush=style.color("grey", 150), name="real data")
        self.fake = pg.ScatterPlotItem(size=5, pen=None, brush=style.color("orange", 170), name="generated")
        for item in (self.real, self.fake):
            self.points_plot.addItem(item)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.image_view)
        self.stack.addWidget(self.points_view)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.title)
        box.addWidget(self.stack, 1)

    def reset(self, task: str = "") -> None:
        self.latest = None
        self.image.clear()
        self.real.clear()
        self.fake.clear()
        self.title.setText(HINT)
        super().reset(task)

    @Slot(object)
    def handle(self, event: object) -> None:
        if isinstance(event, Samples):
            self.latest = event  # only the newest batch is ever drawn
            self.mark_dirty()

    def redraw(self) -> None:
        event = self.latest
        if event is None:
            return
        if event.kind == "points":
            self._draw_points(event)
        elif event.kind == "reconstruction" and event.inputs is not None:
            self._draw_reconstructions(event)
        else:
            self._draw_generated(event)

    def _draw_generated(self, event: Samples) -> None:
        batch = event.images[:MAX_IMAGES]
        lo, hi = value_range(batch)
        self._show_image(image_mosaic(batch, lo, hi))
        self.title.setText(f"<b>Generated samples</b> · step {event.step} · {len(batch)} images, "
                           f"{style.shape_text(batch.shape[1:])} · values {lo:g} to {hi:g}")

    def _draw_reconstructions(self, event: Samples) -> None:
        count = min(len(event.images), 16)
        inputs, rebuilt = event.inputs[:count], event.images[:count].reshape(event.inputs[:count].shape)
        lo, hi = value_range(inputs, rebuilt)
        self._show_image(image_mosaic(np.concatenate([inputs, rebuilt]), lo, hi, columns=count))
        self.title.setText(f"<b>Reconstructions</b> · step {event.step} · top row: inputs, "
                           f"bottom row: what the autoencoder rebuilt")

    def _draw_points(self, event: Samples) -> None:
        self.stack.setCurrentWidget(self.points_view)
        fake = np.asarray(event.images, dtype=np.float32).reshape(len(event.images), -1)
        self.fake.setData(fake[:, 0], fake[:, 1] if fake.shape[1] > 1 else np.zeros(len(fake)))
        if event.inputs is not None:
            real = np.asarray(event.inputs, dtype=np.float32).reshape(len(event.inputs), -1)
            self.real.setData(real[:, 0], real[:, 1] if real.shape[1] > 1 else np.zeros(len(real)))
        self.title.setText(f"<b>Real and generated points</b> · step {event.step} · "
                           f"{len(fake)} generated")

    def _show_image(self, rgba: np.ndarray) -> None:
        self.stack.setCurrentWidget(self.image_view)
        self.image.setImage(rgba, autoLevels=False)
        self.image_plot.autoRange(padding=0.01)
