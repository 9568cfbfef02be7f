"""What keeps the GUI thread free during a run, asserted without timing anything.

- The GUI-thread garbage collector makes no full collection while a run holds it,
  and freezes (rather than scans) a large burst of young objects, thawing them
  when the run ends (gui.gc_guard).
- The training controller holds the collector from start until the run has ended.
- The Results panel makes the confusion matrix's count labels a few per timer
  tick, so a finishing classifier never makes them all in one GUI turn.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from engine.training import Finished, RunOptions
from gui.gc_guard import FREEZE_OVER, GuiCollector, guard_garbage_collection
from gui.plots.results import TEXTS_PER_TICK, ResultsPanel
from gui.training.controller import TrainingController
from tests.helpers import iris_mlp


@pytest.fixture
def collector(qapp):
    made = GuiCollector(interval_s=3600)  # checked by hand only
    yield made
    made.timer.stop()
    while made.holds:
        made.release()


def due_for_full_collection() -> list:
    """Leave every generation's count above a zero threshold, as when a full collection is due."""
    gc.collect(1)  # counts one towards the oldest generation
    gc.collect(0)  # counts one towards the middle one
    return [[] for _ in range(1000)]  # young objects, kept alive by the caller


def test_no_full_collection_while_held(collector):
    collector.threshold = (0, 0, 0)
    collector.hold()
    keep = due_for_full_collection()
    collector.check()
    assert collector.full_collections == 0
    collector.release()
    keep += due_for_full_collection()
    collector.check()
    assert collector.full_collections == 1


def test_a_burst_of_young_objects_is_frozen_during_a_run_and_thawed_after(collector):
    collector.hold()
    burst = [[i] for i in range(FREEZE_OVER + 5000)]
    collector.check()
    assert collector.frozen and gc.get_freeze_count() >= len(burst)
    collector.release()
    assert not collector.frozen and gc.get_freeze_count() == 0


def test_a_small_young_generation_is_collected_not_frozen(collector):
    collector.hold()
    keep = [[i] for i in range(collector.threshold[0] + 50)]
    collector.check()
    assert not collector.frozen and gc.get_freeze_count() == 0
    assert gc.get_count()[0] < len(keep)  # the young generation was collected


def test_the_controller_holds_the_collector_while_its_run_lives(qtbot):
    controller = TrainingController(threads=1)
    shared = guard_garbage_collection()
    before = shared.holds
    seen: list[int] = []
    controller.step.connect(lambda _event: seen.append(shared.holds))
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        assert controller.start(iris_mlp(epochs=1), RunOptions(device="cpu")) == []
    assert seen and set(seen) == {before + 1}
    assert shared.holds == before


def confusion(classes: int = 10) -> dict:
    matrix = np.diag(np.full(classes, 30)) + 1
    return {"confusion_matrix": matrix.tolist(), "class_names": [str(i) for i in range(classes)]}


def test_count_labels_are_made_a_few_per_tick(qtbot):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.handle(Finished(confusion(), False, 1.0))
    panel.redraw()
    assert len(panel.texts) == TEXTS_PER_TICK
    qtbot.waitUntil(lambda: len(panel.texts) == 100 + 10, timeout=5000)


def test_a_reset_drops_the_labels_still_to_make(qtbot):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.handle(Finished(confusion(), False, 1.0))
    panel.redraw()
    panel.reset("classification")
    assert panel.texts == [] and not panel._pending_texts
    panel.flush()
    assert panel.texts == []


def test_the_runs_dock_reads_the_store_only_when_the_run_has_ended(qapp, qtbot, tmp_path, monkeypatch):
    """The worker writes run.json and metrics.csv; the GUI thread reads the folder once, after."""
    from engine.readwrite import save_document
    from gui.main_window import MainWindow
    from gui.runs import panel as runs_panel
    from gui.testing import FakeDialogs

    window = MainWindow(FakeDialogs(), persist=False)
    path = tmp_path / "iris.json"
    save_document(iris_mlp(epochs=2), path)
    assert window.open_path(str(path))
    reads: list[bool] = []
    listing = runs_panel.list_runs

    def list_runs(root, cache=None):
        reads.append(window.run_control.controller.is_running())
        return listing(root, cache)

    monkeypatch.setattr(runs_panel, "list_runs", list_runs)
    try:
        with qtbot.waitSignal(window.runs.panel.changed, timeout=60_000):
            window.run_control.run()
        assert reads and not any(reads)  # read after the run, never during it
        assert window.runs.panel.table.rowCount() == 1
    finally:
        window.run_control.shutdown()
        window.dialogs.save_answer = "discard"
        window.close()
        window.deleteLater()
