"""The look every plot panel shares, decided once so the panels match the editor's dark theme.

Nothing here touches pyqtgraph's global configuration: the editor may use
pyqtgraph too, so each widget gets its colours passed in.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QFont

BACKGROUND = "#1b1d21"  # the editor canvas colour (gui.theme.BACKGROUND)
PANEL_TEXT = "#d6dae0"
AXIS = "#8d939c"
# Per theme (gui.theme.use calls `use`): panels built afterwards take these colours.
SCHEMES = {"dark": ("#1b1d21", "#d6dae0", "#8d939c"), "light": ("#f4f5f7", "#2a2f36", "#5f6670")}
GRID_ALPHA = 0.12
FAINT_ALPHA = 70  # of 255, for raw per-step values under their smoothed curve
GHOST_ALPHA = 90  # of 255, for the newest previous run; older ones fade further

# Readable on the dark background and distinct for the common colour-vision deficiencies.
COLORS = {
    "blue": "#5aa2ff",
    "orange": "#f0a33a",
    "green": "#4cc38a",
    "red": "#f0605a",
    "purple": "#b18cf0",
    "teal": "#3cc4d8",
    "yellow": "#e3c02b",
    "grey": "#a0a6ae",
}
SERIES = ["blue", "orange", "green", "purple", "teal", "red", "yellow", "grey"]
COLORMAP = "viridis"


def use(scheme: str) -> None:
    """The plot background, text and axis colours of `scheme` ("dark" or "light")."""
    global BACKGROUND, PANEL_TEXT, AXIS
    BACKGROUND, PANEL_TEXT, AXIS = SCHEMES[scheme]


def color(name: str, alpha: int = 255) -> QColor:
    c = QColor(COLORS.get(name, name))
    c.setAlpha(alpha)
    return c


def series_color(index: int, alpha: int = 255) -> QColor:
    return color(SERIES[index % len(SERIES)], alpha)


def pen(name: str | QColor, width: float = 1.6, alpha: int = 255, dashed: bool = False):
    c = name if isinstance(name, QColor) else color(name, alpha)
    p = pg.mkPen(c, width=width)
    if dashed:
        p.setDashPattern([4, 3])
    return p


def label_font(size: float = 9.0, bold: bool = False) -> QFont:
    f = QFont("DejaVu Sans")
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


class TimedLayoutWidget(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that remembers what its last paint cost (panels pace themselves by it)."""

    last_paint_s = 0.0

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        began = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_s = time.perf_counter() - began


def graphics_layout() -> TimedLayoutWidget:
    widget = TimedLayoutWidget()
    widget.setBackground(BACKGROUND)
    widget.ci.setContentsMargins(6, 6, 6, 6)
    widget.ci.setSpacing(8)
    return widget


def style_plot(plot: pg.PlotItem, title: str = "", x: str = "", y: str = "",
               grid: bool = True) -> pg.PlotItem:
    """Axis colours, labels, grid and a title in the panel text colour."""
    if title:
        plot.setTitle(title, color=PANEL_TEXT, size="10pt")
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(AXIS))
        axis.setTextPen(pg.mkPen(AXIS))
        axis.setTickFont(label_font(8.5))
        axis.enableAutoSIPrefix(False)  # "ε (x0.001)" reads worse than 0.05
        # The finest tick level adds little to read but, as grid lines, doubles the cost of a frame.
        axis.setStyle(maxTickLevel=1)
    # The x unit is in the title ("... per epoch"): an axis label would cost a row of height.
    if y:
        plot.setLabel("left", y, color=AXIS)
    if grid:
        LightGrid(plot)
    return plot


MIN_GRID_PIXELS = 24
MAX_GRID_LINES = 200


class LightGrid(pg.GraphicsObject):
    """Grid lines at the axes' ticks, drawn inside the view.

    pyqtgraph's own grid stretches each axis over the plot, so every curve update
    repaints the axes with all their text: two thirds of a frame's cost. These
    lines cost a few drawLine calls and leave the axes alone.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        super().__init__()
        self.plot = plot
        self.pens = [pg.mkPen(255, 255, 255, int(255 * GRID_ALPHA)),  # major ticks
                     pg.mkPen(255, 255, 255, int(255 * GRID_ALPHA / 3))]  # minor ticks
        self.setZValue(-100)
        self._key: tuple | None = None
        self._lines: list[list[QLineF]] = [[], []]
        plot.addItem(self, ignoreBounds=True)
        plot.vb.sigRangeChanged.connect(self._range_changed)

    def _range_changed(self, *args) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.plot.vb.viewRect()

    def paint(self, painter, *args) -> None:
        rect = self.plot.vb.viewRect()
        size = self.plot.vb.size()
        if size.width() < MIN_GRID_PIXELS or size.height() < MIN_GRID_PIXELS or not all(
                math.isfinite(v) for v in rect.getRect()):
            return  # a squeezed view asks the axes for absurd tick counts: draw no grid
        key = (rect.getRect(), size.width(), size.height())
        if key != self._key:  # ticks cost more than the lines: only recompute on a new range
            self._key, self._lines = key, self._grid_lines(rect, size)
        for pen, lines in zip(self.pens, self._lines, strict=True):
            if lines:  # PySide6 6.11 crashes in drawLines on an empty list
                painter.setPen(pen)
                painter.drawLines(lines)

    def _grid_lines(self, rect: QRectF, size) -> list[list[QLineF]]:
        levels: list[list[QLineF]] = [[], []]
        for name, lo, hi, pixels in (("bottom", rect.left(), rect.right(), size.width()),
                                     ("left", rect.top(), rect.bottom(), size.height())):
            for level, (_, values) in enumerate(self.plot.getAxis(name).tickValues(lo, hi, pixels)[:2]):
                for v in values[:MAX_GRID_LINES]:
                    if name == "bottom":
                        levels[level].append(QLineF(v, rect.top(), v, rect.bottom()))
                    else:
                        levels[level].append(QLineF(rect.left(), v, rect.right(), v))
        return levels


class LogAxis(pg.AxisItem):
    """In log mode, label only 1, 2 and 5 of each decade: all nine labels collide."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        strings = super().logTickStrings(values, scale, spacing)
        mantissas = [round(10 ** (v % 1), 3) for v in values]
        return [s if m in (1.0, 2.0, 5.0) or len(values) < 4 else "" for s, m in zip(strings, mantissas, strict=True)]


def plot_with_log_axis(layout: pg.GraphicsLayout, **where) -> pg.PlotItem:
    return layout.addPlot(axisItems={"left": LogAxis(orientation="left")}, **where)


def fast_plot(plot: pg.PlotItem) -> pg.PlotItem:
    """Long histories stay cheap: draw only what is in view, at most a few points per pixel."""
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    return plot


POINTS_PER_PIXEL = 1.0  # auto-downsampling bins: peak mode then draws 2 points per pixel column


def few_points_per_pixel(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """Downsample a long curve to a bin per pixel (pyqtgraph's default bins five pixels' worth
    less: a 4,000-step curve on a 1,000-pixel plot was drawn whole, and a 2-pixel pen costs per
    segment). Peak mode keeps each bin's min and max, so spikes still show."""
    item.opts["autoDownsampleFactor"] = POINTS_PER_PIXEL
    return item


def legend(plot: pg.PlotItem, columns: int = 4) -> pg.LegendItem:
    """A one-line legend in its own row between the title and the data, so it never covers
    a curve (a legend floating over the view box hid the accuracy climbing into it)."""
    item = pg.LegendItem(colCount=columns, labelTextColor=PANEL_TEXT, labelTextSize="8.5pt",
                         verSpacing=-6, horSpacing=12)
    top = plot.getAxis("top")
    plot.layout.removeItem(top)  # the top axis is never shown: its cell holds the legend
    top.hide()
    plot.layout.addItem(item, 1, 1)
    plot.legend = item  # plot(name=...) adds its curve here
    item.setMinimumHeight(_one_row_height(item))
    return item


def _one_row_height(legend: pg.LegendItem) -> float:
    """The height of a legend holding one row. Reserved from the start, so a legend gaining its
    first entry (a run's first step or epoch) does not shrink the plot under it: that re-laid
    out all four curve plots and repainted every axis, the costliest paint of a run."""
    sample = pg.PlotDataItem()
    legend.addItem(sample, "Ag")
    height = legend.effectiveSizeHint(Qt.SizeHint.PreferredSize).height()
    legend.removeItem(sample)
    return height


def image_plot(plot: pg.PlotItem, title: str = "") -> pg.ImageItem:
    """A plot holding one row-major image, y down like a picture, axes hidden."""
    style_plot(plot, title, grid=False)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setAspectLocked(True)
    plot.invertY(True)
    plot.setMenuEnabled(False)
    image = pg.ImageItem(axisOrder="row-major")
    plot.addItem(image)
    return image


def colorize(values: np.ndarray, lo: float | None = None, hi: float | None = None,
             colormap: str = COLORMAP) -> np.ndarray:
    """Values (H, W) -> RGBA bytes through the colormap; NaN becomes the background."""
    values = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(values)
    lo = float(np.min(values[finite])) if lo is None and finite.any() else (lo or 0.0)
    hi = float(np.max(values[finite])) if hi is None and finite.any() else (hi if hi is not None else 1.0)
    scaled = np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    rgba = pg.colormap.get(colormap).map(np.where(finite, scaled, 0.0), mode="byte")
    rgba = rgba.reshape(values.shape + (4,))
    rgba[~finite] = QColor(BACKGROUND).getRgb()
    return rgba


def tile(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, H, W[, 3]) -> one (rows*H, cols*W[, 3]) mosaic, NaN between tiles."""
    images = np.asarray(images, dtype=np.float32)
    count, height, width = images.shape[:3]
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    extra = images.shape[3:]
    out = np.full((rows * (height + pad) - pad, columns * (width + pad) - pad) + extra, np.nan,
                  dtype=np.float32)
    for i in range(count):
        r, c = divmod(i, columns)
        y, x = r * (height + pad), c * (width + pad)
        out[y:y + height, x:x + width] = images[i]
    return out


NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)


def nice_ceil(value: float) -> float:
    """The next round number at or above `value` (one of NICE × 10^k)."""
    if value <= 0:
        return 0.0
    scale = 10 ** math.floor(math.log10(value))
    return next(n * scale for n in NICE if n * scale >= value * (1 - 1e-12))


class RangeEnvelope:
    """An invisible item spanning the data rounded outwards to coarse steps.

    Auto-range then only moves when the data outgrows the envelope, so the axes
    re-tick and re-render their text a few dozen times a run instead of every
    frame; zooming, panning and the auto-range button work as usual.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        self.item = pg.PlotDataItem(pen=pg.mkPen(0, 0, 0, 0))  # invisible, yet counted by auto-range
        self.bounds: tuple[float, float, float, float] | None = None
        plot.addItem(self.item)

    def fit(self, x0: float, x1: float, y0: float, y1: float, tight: bool = False) -> None:
        """Cover the data; `tight` (a finished run) ends the x range at the data."""
        quantum = 10 ** math.floor(math.log10(max(y1 - y0, abs(y1), 1e-12))) / 2
        x1 = x1 if tight else nice_ceil(x1 * 1.05)
        lo, hi = math.floor(y0 / quantum) * quantum, math.ceil(y1 / quantum) * quantum
        if hi <= lo:  # a flat curve still gets an axis with labels
            lo, hi = lo - quantum, hi + quantum
        bounds = (x0, x1, lo, hi)
        if bounds != self.bounds:
            self.bounds = bounds
            self.item.setData([bounds[0], bounds[1]], [bounds[2], bounds[3]])

    def clear(self) -> None:
        self.bounds = None
        self.item.setData([], [])


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape) or "scalar"
