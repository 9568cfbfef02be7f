"""What keeps the plots cheap on the GUI thread during a run, asserted without timing anything.

- The training panel builds a tab's plots on first need (shown, or data it keeps arrives
  for a task that shows it), never for tabs the session does not use.
- Pressing Run again on the same document keeps the previous run by restyling its
  curve items, not by plotting new ones.
- The metric plot's title is set only when its text changes (a new title re-lays out
  all four curve plots).
- The Results labels are hidden at once on a reset and reused by the next matrix.
- Legends reserve a row from the start: filling them does not move the plots.
- Long epoch curves are drawn without a dot per epoch.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from engine.training import Activations, Epoch, Finished, Started, Step
from gui.plots.curves import MARKED_EPOCHS, CurvePanel
from gui.plots.panel import TrainingPanel
from gui.plots.results import ResultsPanel


@pytest.fixture
def panel(qtbot):
    made = TrainingPanel()
    qtbot.addWidget(made)
    made.resize(900, 600)
    made.show()
    return made


def one_epoch(target, epoch: int = 1, steps: int = 20) -> None:
    for s in range(1, steps + 1):
        target.handle(Step((epoch - 1) * steps + s, epoch, 1.0 / s, 1e-3, 100.0, s / steps))
    target.handle(Epoch(epoch, {"loss": 0.5, "accuracy": 0.8}, {"loss": 0.6, "accuracy": 0.7}, 1.0))


def test_only_the_shown_tab_is_built_at_first(panel):
    assert set(panel.panels) == {"curves"}
    assert panel.tabs.currentWidget() is panel.panels["curves"]


def test_a_tab_is_built_when_it_is_first_shown(panel):
    index = next(i for i in range(panel.tabs.count()) if panel.tabs.tabText(i) == "Results")
    panel.tabs.setCurrentIndex(index)
    assert "results" in panel.panels and panel.tabs.currentWidget() is panel.panels["results"]
    assert panel.tabs.tabText(panel.tabs.indexOf(panel.panels["results"])) == "Results"
    assert panel.tabs.isTabVisible(panel.tabs.indexOf(panel.panels["results"]))


def test_data_a_hidden_tab_keeps_builds_it_where_the_task_shows_it(panel):
    panel.handle(Started("classification", "cpu", {"main": 10}, 1, 20))
    one_epoch(panel)
    assert "results" not in panel.panels
    panel.handle(Finished({"confusion_matrix": [[3, 1], [0, 4]]}, False, 1.0))
    assert panel.panels["results"].has_matrix
    assert panel.tabs.currentWidget() is panel.panels["results"]
    panel.reset("regression")  # no Results tab: a Finished builds nothing more
    panel.handle(Finished({}, False, 1.0))
    assert "samples" not in panel.panels and "rl" not in panel.panels


def test_a_classification_session_never_builds_the_gan_or_agent_plots(panel):
    for _ in range(2):
        panel.begin_run(type("Doc", (), {"training": {"task": "classification"}, "path": "a.json",
                                         "name": "a"})())
        panel.handle(Started("classification", "cpu", {"main": 10}, 1, 20))
        one_epoch(panel)
        panel.handle(Activations(20, {"conv1": np.zeros((2, 4, 4), np.float32)}))
        panel.handle(Finished({"confusion_matrix": [[3, 1], [0, 4]]}, False, 1.0))
    assert set(panel.panels) == {"curves", "features", "results"}


def test_a_node_selected_before_the_feature_maps_exist_is_shown_when_they_are_built(panel, monkeypatch):
    shown: list[tuple] = []
    monkeypatch.setattr("gui.plots.feature_maps.FeatureMapPanel.show_node",
                        lambda self, node, block=None: shown.append((node, block)))
    panel.select_node("conv1", "Conv2d")
    assert "features" not in panel.panels and shown == []
    panel.handle(Activations(1, {"conv1": np.zeros((2, 4, 4), np.float32)}))
    assert shown == [("conv1", "Conv2d")]


def test_run_again_keeps_the_previous_run_by_restyling_its_items(qtbot, monkeypatch):
    curves = CurvePanel()
    qtbot.addWidget(curves)
    curves.reset("classification", "doc.json")
    one_epoch(curves)
    smooth = curves.tracks["loss"].smooth_item
    epoch_items = set(curves.epoch_items.values())
    made: list = []
    original = pg.PlotItem.plot
    monkeypatch.setattr(pg.PlotItem, "plot", lambda self, *a, **k: made.append(1) or original(self, *a, **k))
    curves.reset("classification", "doc.json")
    assert made == []  # nothing plotted anew for the previous run
    ghost = {item for _, item, _, _ in curves._ghosts[0].items}
    assert ghost == {smooth} | epoch_items
    assert all(item in curves.loss_plot.items or item in curves.epoch_plot.items
               or item in curves.metric_plot.items for item in ghost)
    assert all(item.opts["symbol"] is None for item in epoch_items)


def test_another_document_removes_the_kept_runs(qtbot):
    curves = CurvePanel()
    qtbot.addWidget(curves)
    curves.reset("classification", "doc.json")
    one_epoch(curves)
    curves.reset("classification", "doc.json")
    kept = [item for _, item, _, _ in curves._ghosts[0].items]
    curves.reset("classification", "other.json")
    assert not curves._ghosts
    assert not any(item in plot.items for item in kept for plot in curves.plots)


def test_the_metric_title_is_set_only_when_it_changes(qtbot, monkeypatch):
    curves = CurvePanel()
    qtbot.addWidget(curves)
    titles: list[str] = []
    original = curves.metric_plot.setTitle
    monkeypatch.setattr(curves.metric_plot, "setTitle", lambda text, **k: titles.append(text) or original(text, **k))
    for epoch in (1, 2, 3):
        one_epoch(curves, epoch)
        curves.flush()
    assert titles == ["accuracy per epoch"]


def test_a_reset_hides_the_results_labels_at_once_and_the_next_matrix_reuses_them(qtbot, monkeypatch):
    results = ResultsPanel()
    qtbot.addWidget(results)
    results.show()
    results.handle(Finished({"confusion_matrix": np.diag([5, 6, 7, 4]).tolist()}, False, 1.0))
    results.flush()
    labels = [item for _, item in results.texts]
    assert len(labels) == 16 + 4 and all(item.isVisible() for item in labels)
    removed: list = []
    original = pg.PlotItem.removeItem
    monkeypatch.setattr(pg.PlotItem, "removeItem", lambda self, item: removed.append(item) or original(self, item))
    results.reset("classification")
    assert removed == [] and results.texts == []
    assert not any(item.isVisible() for item in labels)
    results.handle(Finished({"confusion_matrix": np.diag([8, 9, 3]).tolist()}, False, 1.0))
    results.redraw()
    assert not any(item.isVisible() for _, item in results.texts)  # shown once all are made
    results.flush()
    shown = [item for _, item in results.texts]
    assert set(shown) <= set(labels) and len(shown) == 9 + 3
    assert all(item.isVisible() for item in shown)
    assert not any(item.isVisible() for item in set(labels) - set(shown))
    assert sorted(item.toPlainText() for item in shown if "%" not in item.toPlainText()) == ["0"] * 6 + ["3", "8", "9"]


def test_a_legend_gaining_its_first_entry_leaves_the_plots_where_they_are(qtbot):
    curves = CurvePanel()
    qtbot.addWidget(curves)
    curves.resize(900, 500)
    curves.show()
    qtbot.waitExposed(curves)

    def view_sizes() -> list[float]:
        for _ in range(3):  # the layout requests the legends posted
            QApplication.processEvents()
        return [p.vb.size().height() for p in curves.plots]

    empty = view_sizes()
    one_epoch(curves)
    curves.flush()
    assert all(legend.isVisible() for legend in curves.legends.values())
    assert view_sizes() == empty


def test_long_epoch_curves_drop_their_dots(qtbot):
    curves = CurvePanel()
    qtbot.addWidget(curves)
    for epoch in range(1, MARKED_EPOCHS + 1):
        curves.add_epoch(epoch, {"loss": 1.0 / epoch}, {"loss": 1.1 / epoch})
    curves.flush()
    assert all(item.opts["symbol"] == "o" for item in curves.epoch_items.values())
    curves.add_epoch(MARKED_EPOCHS + 1, {"loss": 0.01}, {"loss": 0.011})
    curves.flush()
    assert all(item.opts["symbol"] is None for item in curves.epoch_items.values())
    assert len(curves.epoch_items[("val", "loss")].getData()[0]) == MARKED_EPOCHS + 1


def test_the_epoch_plots_keep_their_range_while_new_epochs_fit_inside_it(qtbot):
    """Each range change re-ticks and repaints the axes; hundreds of epochs of a tiny model
    changed both epoch plots' ranges at every epoch redraw."""
    curves = CurvePanel()
    qtbot.addWidget(curves)
    curves.resize(900, 500)
    curves.show()
    ranges = []
    for epoch in range(1, 41):
        curves.add_epoch(epoch, {"loss": 1.0 + 0.001 * epoch, "accuracy": 0.5 + 0.001 * epoch},
                         {"loss": 1.05, "accuracy": 0.52})
        curves.flush()
        curves.view.scene().prepareForPaint()  # auto-range, as a frame does before its paint
        ranges.append(tuple(tuple(plot.viewRange()[1]) for plot in (curves.epoch_plot, curves.metric_plot)))
    assert len(set(ranges[10:])) <= 3  # a few coarse steps, not one per epoch
    loss_range, metric_range = ranges[-1]
    assert loss_range[0] <= 1.0 and loss_range[1] >= 1.05 and metric_range[1] >= 0.54
