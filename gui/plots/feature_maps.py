"""Live activations of the node the person selected, drawn the way its shape asks for.

- (C, H, W), and anything with more axes (heads, ...) folded into C: a grid of
  channels in one image, each channel scaled to its own range so that quiet
  channels still show their pattern (the first `MAX_CHANNELS` only);
- (L, S): a heatmap with a colour bar; for attention blocks the axes are query
  and key positions, and the map is the attention weights the block returns;
- a vector: bars (up to `MAX_BARS` values), longer ones wrapped into a heat grid;
- a scalar: its value in the title;
- a graph attention layer (GATConv): the graph itself, each edge drawn with
  the attention on it (`attention_graph.py`), laid out once per graph by
  networkx on a background thread.

Wiring: the window calls `show_node(node_id, block_name)` on selection (and
`controller.watch([node_id])` so the trainer reports it); `handle(Activations)`
keeps the latest tensor of every node, so switching back is instant.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.training import Activations
from engine.training.graph_attention import EdgeAttention, graph_layout
from gui.background import BackgroundTasks
from gui.plots import style
from gui.plots.attention_graph import AttentionGraph
from gui.plots.base import PlotPanel

MAX_CHANNELS = 64
MAX_BARS = 128
HINT = "Select a node in the editor while training to see its activations here."


def as_channels(array: np.ndarray) -> np.ndarray:
    """(..., H, W) -> (C, H, W), the leading axes folded together."""
    return array.reshape((-1,) + array.shape[-2:])


def channel_grid(array: np.ndarray, limit: int = MAX_CHANNELS) -> np.ndarray:
    """Channels scaled to [0, 1] each and tiled; NaN separates them."""
    channels = as_channels(array)[:limit].astype(np.float32)
    lo = channels.min(axis=(1, 2), keepdims=True)
    hi = channels.max(axis=(1, 2), keepdims=True)
    scaled = (channels - lo) / np.maximum(hi - lo, 1e-12)
    return style.tile(scaled, pad=max(1, channels.shape[-1] // 12))


class FeatureMapPanel(PlotPanel):
    laid_out = Signal()  # a graph's layout arrived from the background thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.node: str | None = None
        self.block: str | None = None
        self.latest: dict[str, tuple[int, np.ndarray | EdgeAttention]] = {}
        self.layouts: dict[tuple, np.ndarray] = {}  # per graph (EdgeAttention.key), kept across runs
        self._laying_out: set[tuple] = set()
        self._layout_tasks: BackgroundTasks | None = None
        self.mode = "empty"
        self.title = QLabel(HINT)
        self.title.setStyleSheet(f"color: {style.PANEL_TEXT}; padding: 3px 6px;")
        self.title.setWordWrap(True)
        self.view = style.graphics_layout()
        self.plot = style.style_plot(self.view.ci.addPlot(row=0, col=0), grid=False)
        self.grid = style.LightGrid(self.plot)
        self.plot.setMenuEnabled(False)
        self.grid_image = pg.ImageItem(axisOrder="row-major")
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=style.color("blue"),
                                    pen=pg.mkPen(None))
        for item in (self.grid_image, self.heat_image, self.bars):
            self.plot.addItem(item)
        self.graph = AttentionGraph(self.plot)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=style.COLORMAP, interactive=False,
                                        width=14, pen=style.AXIS)
        self.colorbar.setImageItem(self.heat_image)
        self.colorbar.getAxis("right").setTextPen(pg.mkPen(style.AXIS))
        self.view.ci.addItem(self.colorbar, row=0, col=1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.title)
        box.addWidget(self.view, 1)
        self._set_mode("empty")

    def reset(self, task: str = "") -> None:
        self.latest.clear()
        super().reset(task)

    def show_node(self, node_id: str | None, block: str | None = None) -> None:
        """Display this node's activations (the latest already received, if any)."""
        self.node, self.block = node_id, block
        self.mark_dirty()

    @Slot(object)
    def handle(self, event: object) -> None:
        if not isinstance(event, Activations):
            return
        for node_id, array in event.tensors.items():
            kept = array if isinstance(array, EdgeAttention) else np.asarray(array)
            self.latest[node_id] = (event.step, kept)
        if self.node is None and event.tensors:
            self.node = next(iter(event.tensors))
        if self.node in event.tensors:
            self.mark_dirty()

    # ---- drawing ----------------------------------------------------------------------

    def redraw(self) -> None:
        if self.node is None or self.node not in self.latest:
            self._set_mode("empty")
            waiting = f"Waiting for activations of {self.node}…" if self.node else HINT
            self.title.setText(waiting)
            return
        step, array = self.latest[self.node]
        name = f"<b>{self.node}</b>" + (f" ({self.block})" if self.block else "")
        if isinstance(array, EdgeAttention):
            what, note = array.describe(), self._draw_graph(array)
        else:
            what, note = style.shape_text(array.shape), self._draw(array)
        self.title.setText(f"{name} · {what} · step {step}" + (f" · {note}" if note else ""))

    def _draw(self, array: np.ndarray) -> str:
        """Draw `array` in the mode its shape asks for; returns a note for the title."""
        if array.ndim == 0 or array.size == 1:
            self._set_mode("empty")
            return f"value {float(array.reshape(-1)[0]):.4g}"
        if array.ndim == 1:
            return self._draw_vector(array)
        if array.ndim == 2:
            return self._draw_heatmap(array)
        channels = as_channels(array)
        self._set_mode("grid")
        self.grid_image.setImage(style.colorize(channel_grid(array), 0.0, 1.0), autoLevels=False)
        self.plot.autoRange(padding=0.01)
        shown = min(len(channels), MAX_CHANNELS)
        more = f"first {shown} of {len(channels)}" if shown < len(channels) else f"{shown} channels"
        return f"{more}, each scaled to its own range"

    def _draw_vector(self, vector: np.ndarray) -> str:
        if len(vector) > MAX_BARS:
            width = int(np.ceil(np.sqrt(len(vector))))
            padded = np.full(width * int(np.ceil(len(vector) / width)), np.nan, dtype=np.float32)
            padded[: len(vector)] = vector
            self._draw_heatmap(padded.reshape(-1, width), wrapped=True)
            return f"wrapped, {width} values per row"
        self._set_mode("bars")
        self.bars.setOpts(x=np.arange(len(vector)), height=vector, width=0.8)
        self.plot.setLabel("bottom", "feature", color=style.AXIS)
        self.plot.setLabel("left", "activation", color=style.AXIS)
        self.plot.autoRange(padding=0.05)
        return ""

    def _draw_heatmap(self, matrix: np.ndarray, wrapped: bool = False) -> str:
        self._set_mode("heat")
        finite = matrix[np.isfinite(matrix)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.heat_image.setImage(np.nan_to_num(matrix.astype(np.float32), nan=lo), autoLevels=False)
        rows, cols = matrix.shape
        self.heat_image.setRect(QRectF(-0.5, -0.5, cols, rows))  # integer ticks on cell centres
        self.colorbar.setLevels((lo, hi if hi > lo else lo + 1e-6))
        attention = "attention" in (self.block or "").lower()
        x_name, y_name = ("key position", "query position") if attention else ("feature", "position")
        if wrapped:
            x_name, y_name = "value (wrapped)", "row"
        self.plot.setLabel("bottom", x_name, color=style.AXIS)
        self.plot.setLabel("left", y_name, color=style.AXIS)
        self.plot.autoRange(padding=0.01)
        return "attention weights" if attention else ""

    def _draw_graph(self, attention: EdgeAttention) -> str:
        layout = self.layouts.get(attention.key())
        if layout is None:
            self._lay_out(attention)
            self._set_mode("empty")
            return f"laying out the graph of {attention.nodes} nodes…"
        self._set_mode("graph")
        top = self.graph.draw(attention, layout)
        self.colorbar.setLevels((0.0, top))
        self.plot.autoRange(padding=0.04)
        return "each half-edge: how much its node attends to that neighbour; fill: to itself"

    def _lay_out(self, attention: EdgeAttention) -> None:
        """Place the graph's nodes once, off the GUI thread (seconds for thousands of nodes)."""
        key = attention.key()
        if key in self._laying_out:
            return
        self._laying_out.add(key)
        if self._layout_tasks is None:
            self._layout_tasks = BackgroundTasks(self)

        def done(layout: np.ndarray) -> None:
            self._laying_out.discard(key)
            self.layouts[key] = layout
            self.mark_dirty()
            self.laid_out.emit()

        def failed(message: str) -> None:
            self._laying_out.discard(key)
            self.title.setText(f"cannot lay out the graph: {message}")

        self._layout_tasks.start(lambda: graph_layout(attention), done, failed)

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        self.grid_image.setVisible(mode == "grid")
        self.heat_image.setVisible(mode == "heat")
        self.bars.setVisible(mode == "bars")
        self.graph.setVisible(mode == "graph")
        self.colorbar.setVisible(mode in ("heat", "graph"))
        axes = mode in ("heat", "bars")
        for name in ("left", "bottom"):
            self.plot.showAxis(name, axes)
        self.grid.setVisible(mode == "bars")
        self.plot.setAspectLocked(mode in ("grid", "graph"))
        self.plot.invertY(mode in ("grid", "heat"))
