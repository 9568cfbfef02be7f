"""The feature-map view draws a GATConv's attention on the graph's edges (pytest-qt).

The attention comes from a real, briefly trained gat_karate run through the
activation capture, as the Training view receives it; the panel is rendered
to /tmp/plots_gat_attention.png, to be looked at by a person.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.presets import load_preset
from engine.training import Activations, make_trainer
from engine.training.graph_attention import EdgeAttention
from gui.plots import attention_graph, feature_maps
from gui.plots.feature_maps import FeatureMapPanel
from tests.test_gui_plots import render, show  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def karate_attention() -> Activations:
    doc = load_preset("gat_karate")
    doc.training["device"] = "cpu"
    events = make_trainer(doc, epochs=40, watch=["gat1"], activation_interval=0.0).run()
    return [e for e in events if isinstance(e, Activations)][-1]


def test_a_gat_layer_is_drawn_as_its_graph_with_attention_on_each_edge(show, qtbot, monkeypatch,  # noqa: F811
                                                                       karate_attention):
    layouts = []
    monkeypatch.setattr(feature_maps, "graph_layout",
                        lambda attention: layouts.append(attention.nodes) or _spring(attention))
    panel = show(FeatureMapPanel())
    panel.show_node("gat1", "GATConv")
    with qtbot.waitSignal(panel.laid_out, timeout=30_000):
        panel.handle(karate_attention)
        panel.flush()
        assert panel.mode == "empty" and "laying out the graph of 34 nodes" in panel.title.text()
    panel.flush()
    attention = karate_attention.tensors["gat1"]
    assert isinstance(attention, EdgeAttention)
    assert panel.mode == "graph" and panel.graph.nodes.isVisible()
    assert "34 nodes, 156 directed edges, mean of 8 heads" in panel.title.text()
    counts = panel.graph.segments()
    assert sum(counts) == 156  # 78 friendships, each drawn from both ends
    strongest = attention.mean()[attention.sources != attention.targets].max()
    assert counts[-1] >= 1 and panel.graph.top == pytest.approx(strongest)
    assert len(panel.graph.nodes.data) == 34
    render(panel, "gat_attention")
    panel.handle(Activations(karate_attention.step + 1, karate_attention.tensors))  # same graph
    panel.flush()
    assert layouts == [34] and panel.mode == "graph"  # laid out once per graph


def _spring(attention: EdgeAttention) -> np.ndarray:
    from engine.training.graph_attention import graph_layout

    return graph_layout(attention)


def test_levels_follow_the_weights(qtbot) -> None:
    """A node that splits its attention 0.9 / 0.1 draws the 0.1 half-edge at the lowest level."""
    attention = EdgeAttention(3, np.array([0, 0, 1, 2]), np.array([1, 2, 0, 0]),
                              np.array([[0.9, 0.1, 1.0, 1.0]], dtype=np.float32))
    import pyqtgraph as pg

    plot = pg.PlotItem()  # kept: the items belong to it
    graph = attention_graph.AttentionGraph(plot)
    top = graph.draw(attention, np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float32))
    assert top == 1.0
    counts = graph.segments()
    assert counts[0] == 1 and counts[-1] == 3 and sum(counts) == 4  # 0.1 lowest; 0.9, 1, 1 top
    x, y = graph.levels[0].getData()
    assert np.allclose(np.stack([x, y], 1), [[0, 0], [0, 0.5]])  # node 0's half towards node 2
