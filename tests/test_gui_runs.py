"""The Runs panel, run overlays, the trade-off plot and the GUI's own recorded runs (pytest-qt)."""

from __future__ import annotations

import pytest

from engine.readwrite import save_document
from engine.runs.compare import pareto_front
from engine.runs.recorder import RunRecorder
from engine.runs.store import list_runs, read_run
from engine.training import RunOptions, make_trainer
from gui.main_window import MainWindow
from gui.plots.curves import CurvePanel
from gui.runs.overlay import RunOverlays
from gui.runs.panel import RunsPanel
from gui.runs.sweep_dialog import SweepDialog, sweepable_paths
from gui.runs.tradeoff import TradeoffPlot
from gui.testing import FakeDialogs
from tests.helpers import iris_mlp

TIMEOUT_MS = 60_000


def _record(root, lr: float, hidden: int = 16, name: str = "iris") -> str:
    doc = iris_mlp(epochs=2, optimizer={"name": "adam", "lr": lr})
    doc.name = name
    doc.network().set_param("b0", "out_features", hidden)
    recorder = RunRecorder(root, doc, RunOptions(), tensorboard=False)
    for _ in recorder.watch(make_trainer(doc, RunOptions()).run()):
        pass
    return recorder.id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    ids = [_record(root, 0.01, 16), _record(root, 0.05, 4), _record(root, 0.01, 8, name="other")]
    return root, ids


def _legend_labels(curves: CurvePanel, plot) -> list[str]:
    return [label.text for _, label in curves.legends[plot].items]


def test_the_runs_panel_lists_the_documents_runs_and_all_on_request(qtbot, store):
    root, ids = store
    panel = RunsPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.changed):
        panel.set_store(root, "iris")
    listed = {panel.table.item(row, 1).text() for row in range(panel.table.rowCount())}
    assert listed == set(ids[:2])
    headers = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    assert "test_accuracy" in headers and "Parameters" in headers
    with qtbot.waitSignal(panel.changed):
        panel.all_box.setChecked(True)
    assert panel.table.rowCount() == 3
    parameters = headers.index("Parameters")
    panel.table.sortItems(parameters)
    column = [panel.table.item(row, parameters).data(0) for row in range(3)]
    assert column == sorted(column)  # numbers sort as numbers


def test_selecting_two_runs_overlays_two_labelled_curves(qtbot, store):
    root, ids = store
    panel, curves = RunsPanel(), CurvePanel()
    qtbot.addWidget(panel)
    qtbot.addWidget(curves)
    overlays = RunOverlays(curves)
    panel.runs_selected.connect(overlays.show)
    panel.set_store(root, "iris")
    with qtbot.waitSignal(panel.runs_selected, check_params_cb=lambda runs: len(runs) == 2):
        panel.select_ids(ids[:2])
    on_loss = [item for plot, item in overlays.items if plot is curves.loss_plot]
    assert len(on_loss) == 2
    assert on_loss[0].opts["pen"].color() != on_loss[1].opts["pen"].color()  # a colour per run
    labels = _legend_labels(curves, curves.loss_plot)
    assert f"run {ids[0]}" in labels and f"run {ids[1]}" in labels
    assert {plot for plot, _ in overlays.items} >= {curves.epoch_plot, curves.metric_plot}
    with qtbot.waitSignal(panel.runs_selected):
        panel.table.clearSelection()
    assert not overlays.items and not any(t.startswith("run ") for t in _legend_labels(curves, curves.loss_plot))


def test_star_and_note_are_kept_in_the_run_folder(qtbot, store):
    root, ids = store
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_store(root, "iris")
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 1).text() == ids[0])
    panel.table.item(row, 0).setCheckState(panel.table.item(row, 0).checkState().Checked)
    panel.table.item(row, panel.table.columnCount() - 1).setText("good baseline")
    notes = read_run(root / ids[0]).notes
    assert notes == {"star": True, "note": "good baseline"}


def test_double_click_opens_the_bundle_and_delete_asks_first(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))  # the trash, if any, stays here
    run_id = _record(tmp_path / "store", 0.01)
    answers = []
    panel = RunsPanel(confirm=lambda title, text: answers.pop())
    qtbot.addWidget(panel)
    panel.set_store(tmp_path / "store", "iris")
    with qtbot.waitSignal(panel.open_requested, check_params_cb=lambda p: p.endswith("iris.ncz") or
                          p.endswith(".ncz")):
        panel._double_clicked(0, 1)
    panel.select_ids([run_id])
    answers.append(False)
    assert panel.delete_selected() == [] and (tmp_path / "store" / run_id).is_dir()
    panel.select_ids([run_id])
    answers.append(True)
    assert panel.delete_selected() == [run_id]
    assert not (tmp_path / "store" / run_id).exists() and panel.table.rowCount() == 0


def test_the_tradeoff_plot_has_a_point_per_run_and_its_front(qtbot, store):
    root, _ = store
    runs = list_runs(root)
    plot = TradeoffPlot()
    qtbot.addWidget(plot)
    plot.set_runs(runs, "test_accuracy", maximize=True, cost="parameters")
    assert len(plot.scatter.points()) == len(runs) == 3
    expected = pareto_front([(r.record["parameters"], r.metrics["test_accuracy"]) for r in runs])
    assert plot.front == expected and len(plot.front_item.xData) == len(expected)
    with qtbot.waitSignal(plot.run_clicked, check_params_cb=lambda path: path == str(runs[expected[0]].path)):
        plot._clicked(plot.scatter, [plot.scatter.points()[expected[0]]])


def test_the_sweep_dialog_offers_the_documents_settings_and_builds_the_command(qtbot, tmp_path):
    doc = iris_mlp(epochs=2)
    assert {"training.optimizer.lr", "training.epochs", "b0.out_features"} <= set(sweepable_paths(doc))
    dialog = SweepDialog(doc, str(tmp_path / "iris.json"), tmp_path / "runs")
    qtbot.addWidget(dialog)
    dialog.param_box.setCurrentText("training.optimizer.lr")
    dialog.values.setText("1e-3,1e-2")
    dialog.add_param()
    args = dialog.arguments()
    assert args[args.index("--param") + 1] == "training.optimizer.lr=1e-3,1e-2"
    assert args[args.index("--metric") + 1] == "test_accuracy"


def test_a_run_from_the_window_is_recorded_in_the_store(qapp, qtbot, tmp_path):
    window = MainWindow(FakeDialogs(), persist=False)
    path = tmp_path / "iris.json"
    save_document(iris_mlp(epochs=1), path)
    assert window.open_path(str(path))
    try:
        with qtbot.waitSignal(window.runs.panel.changed, timeout=TIMEOUT_MS):
            window.run_control.run()
        runs = list_runs(tmp_path / "runs")
        assert len(runs) == 1 and runs[0].record["source"] == "gui" and runs[0].status == "finished"
        assert runs[0].bundle is not None and window.runs.panel.table.rowCount() == 1
    finally:
        window.run_control.shutdown()
        window.dialogs.save_answer = "discard"
        window.close()
        window.deleteLater()


def test_the_sweep_dialog_runs_a_sweep_in_a_child_process_with_a_live_table(qtbot, tmp_path):
    doc = iris_mlp(epochs=1)
    path = tmp_path / "iris.json"
    save_document(doc, path)
    dialog = SweepDialog(doc, str(path), tmp_path / "runs")
    qtbot.addWidget(dialog)
    dialog.params.setPlainText("training.optimizer.lr=0.001,0.01")
    dialog.search.setCurrentText("grid")
    dialog.trials.setValue(2)
    with qtbot.waitSignal(dialog.trial_done, timeout=180_000):
        dialog.start()
        assert not dialog.start_button.isEnabled()  # the GUI goes on while the child trains
    assert dialog.table.rowCount() >= 1
    with qtbot.waitSignal(dialog.sweep_ended, timeout=180_000, check_params_cb=lambda code: code == 0):
        pass
    assert dialog.table.rowCount() == 2 and len(dialog.tradeoff.scatter.points()) == 2
    assert {r.record["sweep"]["name"] for r in list_runs(tmp_path / "runs")} == {dialog.name}


def test_the_gui_stores_runs_beside_a_saved_document_and_presets_in_its_data_folder(tmp_path):
    from engine.presets import load_preset, preset_path
    from gui import settings
    from gui.runs.recording import gui_runs_dir

    doc = iris_mlp()
    doc.path = str(tmp_path / "nets" / "iris.json")
    assert gui_runs_dir(doc) == (tmp_path / "nets" / "runs").resolve()
    preset = load_preset("mlp_xor")
    preset.path = str(preset_path("mlp_xor"))
    assert gui_runs_dir(preset) == settings.data_dir() / "runs"


def test_a_refresh_fills_only_what_changed_and_keeps_the_selection(qtbot, tmp_path, monkeypatch):
    """After every run the panel re-read and rebuilt every row (100 ms for 500 runs) and
    dropped the selection, and with it the curves overlaid on the plots."""
    import shutil

    from engine.runs import store

    root = tmp_path / "store"
    ids = [_record(root, 0.01), _record(root, 0.05)]
    live = RunRecorder(root, iris_mlp(), RunOptions(), tensorboard=False)  # left "running"
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_store(root, "test")
    panel.all_box.setChecked(True)
    panel.select_ids([ids[0]])
    filled = []
    fill = RunsPanel._fill_row
    monkeypatch.setattr(RunsPanel, "_fill_row",
                        lambda self, row, run, metrics: filled.append(run.id) or fill(self, row, run, metrics))
    new = _record(root, 0.02)
    monkeypatch.setattr(store, "pid_alive", lambda pid: False)  # the recording process died
    with qtbot.assertNotEmitted(panel.runs_selected):
        panel.refresh()
    assert sorted(filled) == sorted([new, live.id])  # the new run, and the live one's status
    status = {panel.table.item(r, 1).text(): panel.table.item(r, 2).text()
              for r in range(panel.table.rowCount())}
    assert status[live.id] == store.CRASHED and len(status) == 4
    assert [run.id for run in panel.selected_runs()] == [ids[0]]
    shutil.rmtree(root / ids[1])
    panel.refresh()
    assert {panel.table.item(r, 1).text() for r in range(panel.table.rowCount())} == {ids[0], new, live.id}
    live.close("stopped")
