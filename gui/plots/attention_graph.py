"""A graph attention layer's attention drawn on the graph: whom each node listens to.

Each directed edge i→j is drawn as the half of the segment i–j nearest to i,
coloured and thickened by α_ij (averaged over the heads): around every node
one reads how it splits its attention among its neighbours, and the two halves
of an edge show both directions. A node's fill is the attention it pays to
itself (its self loop). Edges are binned into `LEVELS` colour/width classes,
one `connect="pairs"` curve each, so Cora's 13k edges are a handful of items.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.training.graph_attention import EdgeAttention
from gui.plots import style

LEVELS = 8
MAX_WIDTH = 4.0


def node_size(nodes: int) -> float:
    return 11.0 if nodes <= 100 else 7.0 if nodes <= 600 else 3.0


class AttentionGraph:
    """The items of one graph drawing, owned by a plot (shown or hidden together)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        colormap = pg.colormap.get(style.COLORMAP)
        self.colors = colormap.map((np.arange(LEVELS) + 0.5) / LEVELS, mode="qcolor")
        self.levels = []
        for level in range(LEVELS):
            width = 0.6 + MAX_WIDTH * (level + 1) / LEVELS
            item = pg.PlotCurveItem(pen=pg.mkPen(self.colors[level], width=width), connect="pairs",
                                    antialias=True)
            item.setZValue(level)  # heavier attention on top
            plot.addItem(item)
            self.levels.append(item)
        self.nodes = pg.ScatterPlotItem(pen=pg.mkPen(style.AXIS, width=0.8))
        self.nodes.setZValue(LEVELS + 1)
        plot.addItem(self.nodes)
        self.colormap = colormap
        self.top = 1.0

    def setVisible(self, visible: bool) -> None:
        for item in (*self.levels, self.nodes):
            item.setVisible(visible)

    def draw(self, attention: EdgeAttention, layout: np.ndarray) -> float:
        """Draw `attention` at `layout` (V×2); returns the weight the brightest level stands for."""
        weights = attention.mean()
        links = attention.sources != attention.targets
        source, target, weight = attention.sources[links], attention.targets[links], weights[links]
        self.top = float(weight.max()) if weight.size and weight.max() > 0 else 1.0
        level = np.minimum((weight / self.top * LEVELS).astype(int), LEVELS - 1)
        start, middle = layout[source], (layout[source] + layout[target]) / 2
        for index, item in enumerate(self.levels):
            chosen = level == index
            pairs = np.empty((2 * int(chosen.sum()), 2), dtype=np.float32)
            pairs[0::2], pairs[1::2] = start[chosen], middle[chosen]
            item.setData(pairs[:, 0], pairs[:, 1])
        self._draw_nodes(attention, weights, layout)
        return self.top

    def _draw_nodes(self, attention: EdgeAttention, weights: np.ndarray, layout: np.ndarray) -> None:
        own = np.full(attention.nodes, np.nan, dtype=np.float32)
        loops = attention.sources == attention.targets
        own[attention.sources[loops]] = weights[loops]
        scaled = np.clip(np.nan_to_num(own, nan=0.0) / self.top, 0.0, 1.0)
        brushes = [pg.mkBrush(color) for color in self.colormap.map(scaled, mode="qcolor")]
        for node in np.flatnonzero(np.isnan(own)):  # no self loop: nothing to colour by
            brushes[node] = pg.mkBrush(style.color("grey"))
        self.nodes.setData(pos=layout, size=node_size(attention.nodes), brush=brushes)

    def segments(self) -> list[int]:
        """Half-edges drawn per level, lightest first (what the tests read)."""
        counts = []
        for item in self.levels:
            x, _ = item.getData()
            counts.append(0 if x is None else len(x) // 2)
        return counts
