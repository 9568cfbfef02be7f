"""The main window: presets, files, title, autosave and recovery, drops, screenshots, scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QDockWidget

from engine import check, document_to_json, load_document
from gui import settings
from gui.app import main
from gui.main_window import MainWindow
from gui.recovery import find_recoverable
from gui.testing import FakeDialogs, large_document

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted((ROOT / "presets").glob("*.json"))


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_opens_without_error_and_without_overlapping_cards(window, preset):
    assert window.open_preset(str(preset)), window.dialogs.errors
    assert window.dialogs.errors == []
    doc = window.session.document
    assert window.tabs.count() == len(doc.networks)
    window.session.check_now()
    for name, scene in window.scenes.items():
        assert set(scene.nodes) == set(doc.networks[name].nodes)
        assert len(scene.edges) == len(doc.networks[name].edges)
        if window.session.reports[name].ok:
            assert all(item.label for item in scene.edges.values())
        rects = [(n, item.card_rect())
                 for n, item in scene.nodes.items()]
        overlaps = [(a, b) for i, (a, ra) in enumerate(rects) for b, rb in rects[i + 1:]
                    if ra.intersects(rb)]
        assert overlaps == [], f"{preset.name}: cards overlap: {overlaps}"
    assert window.windowTitle().startswith(f"{doc.name} (preset)")
    window.grab()


def test_docks_menus_and_status_bar(window, lenet):
    window.open_preset(str(lenet))
    for name in ("paletteDock", "inspectorDock", "trainingDock", "problemsDock",
                 "plotsDock", "logDock"):
        assert isinstance(window.findChild(QDockWidget, name), QDockWidget)
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Run", "Help"]
    file_items = [a.text().replace("&", "") for a in window.menus.file.actions()]
    for item in ("New", "Open…", "Open Preset", "Open Recent", "Save", "Save As…", "Revert",
                 "Export", "Import Model (PyTorch or ONNX)…"):
        assert item in file_items
    assert window.run_control.run_action.isEnabled()  # the training controller listens
    window.session.check_now()
    net, report = window.current_scene().net, check(window.session.document)
    assert f"Parameters: {report.networks['main'].parameters:,}" in window.totals_label.text()
    assert f"{len(net.nodes)} blocks, {len(net.edges)} wires" in window.selection_label.text()
    window.current_scene().select_nodes(["conv1"])
    assert "conv1 (Conv2d)" in window.selection_label.text()
    assert window.inspector.editors["out_channels"].widget.value() == 20
    assert window.actions_.undo.shortcut().toString() == "Ctrl+Z"
    assert window.actions_.frame_sel.shortcut().toString() == "F"


def test_save_then_open_round_trips_and_clears_the_star(window, tmp_path, lenet):
    window.open_preset(str(lenet))
    name = window.session.document.name
    assert window.windowTitle() == f"{name} (preset)[*] — NetCanvas"
    window.session.set_param("main", "fc1", "out_features", 123)
    assert window.isWindowModified()
    window.dialogs.next_save = str(tmp_path / "mine.json")
    assert window.files.save()  # a preset is a template: Save asks for a file
    assert not window.isWindowModified() and window.path == str(tmp_path / "mine.json")
    saved = document_to_json(window.session.document)
    assert (tmp_path / "mine.json").read_text(encoding="utf-8") == saved
    assert settings.recent_files()[0] == str((tmp_path / "mine.json").resolve())
    assert window.open_path(str(tmp_path / "mine.json"))
    assert document_to_json(window.session.document) == saved
    assert document_to_json(load_document(tmp_path / "mine.json")) == saved


def test_broken_file_shows_the_engine_message_and_keeps_the_document(window, tmp_path, lenet):
    window.open_preset(str(lenet))
    window.session.set_param("main", "fc1", "out_features", 77)
    before = document_to_json(window.session.document)
    broken = tmp_path / "broken.json"
    raw = json.loads(lenet.read_text())
    raw["networks"]["main"]["nodes"][1]["params"]["kernel_size"] = "five"
    broken.write_text(json.dumps(raw))
    assert not window.open_path(str(broken))
    (title, text), = window.dialogs.errors
    assert "broken.json" in text and "networks.main.nodes[1].params.kernel_size" in text
    assert document_to_json(window.session.document) == before
    assert window.isWindowModified()


def test_closing_with_changes_asks_first(window, tmp_path, lenet):
    window.open_preset(str(lenet))
    window.session.set_param("main", "fc1", "out_features", 5)
    window.dialogs.save_answer = "cancel"
    assert not window.close()
    name = window.session.document.name
    assert window.isVisible() and window.dialogs.asked == [f"save:{name} (preset)"]
    window.dialogs.save_answer = "save"
    window.dialogs.next_save = str(tmp_path / "closing.json")
    assert window.close()
    assert (tmp_path / "closing.json").exists()
    assert settings.settings().value("window/state") is not None


def test_autosave_writes_a_recovery_file_and_the_next_start_offers_it(window, tmp_path,
                                                                       monkeypatch, lenet):
    window.open_preset(str(lenet))
    assert window.autosave_timer.interval() == 30_000
    assert window.files.autosave_now() is None  # nothing unsaved, nothing written
    window.session.set_param("main", "fc1", "out_features", 99)
    path = window.files.autosave_now()
    assert path is not None and path.exists()
    record = json.loads(path.read_text())
    assert record["document"]["networks"]["main"]["nodes"][8]["params"]["out_features"] == 99
    # Pretend the writer crashed: give the file a pid that no longer runs.
    record["pid"] = 2**22 + 12345
    orphan = path.with_name("autosave-crashed.json")
    orphan.write_text(json.dumps(record))
    assert [r.path for r in find_recoverable()] == [orphan]
    other = MainWindow(FakeDialogs())
    other.dialogs.recover_answer = True
    monkeypatch.delenv(settings.NO_RECOVERY_ENV)
    assert other.files.offer_recovery()
    assert other.session.document.network("main").nodes["fc1"].params["out_features"] == 99
    assert other.isWindowModified() and not orphan.exists()
    other.dialogs.save_answer = "discard"
    other.close()
    window.dialogs.next_save = str(tmp_path / "saved.json")
    assert window.files.save() and not path.exists()  # a clean save removes the recovery file


def test_dropping_a_file_on_the_window_opens_it(window, qtbot, tmp_path, lenet):
    target = tmp_path / "dropped.json"
    target.write_text(lenet.read_text())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(target))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.new_document()
    window.current_view().dropEvent(event)
    assert window.path == str(target)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.path == str(target))


def test_run_menu_hooks_lock_editing_while_running(window, lenet):
    window.open_preset(str(lenet))
    window.run_control.set_engine_ready(True)
    assert window.run_control.run_action.isEnabled() and not window.run_control.stop_action.isEnabled()
    window.session.set_param("main", "fc1", "out_features", 9)
    window.run_control.update_actions("running")  # as the controller reports a run
    window.lock_editing(True)
    assert not window.actions_.undo.isEnabled() and window.run_control.stop_action.isEnabled()
    assert not window.run_control.run_action.isEnabled()
    assert not window.session.set_param("main", "fc1", "out_features", 10)
    window.lock_editing(False)
    window.run_control.update_actions("idle")
    assert window.actions_.undo.isEnabled()


def test_screenshot_writes_a_png(qapp, tmp_path, lenet):
    png = tmp_path / "shot.png"
    assert main(str(lenet), str(png)) == 0
    image = QImage(str(png))
    assert not image.isNull() and image.width() >= 1200
    assert main(str(tmp_path / "missing.json"), str(tmp_path / "no.png")) == 1


def test_a_500_node_document_opens_checks_and_paints(window):
    """Correctness only; how fast is measured by benchmarks/editor_benchmark.py."""
    doc = large_document()
    assert len(doc.network("main").nodes) >= 500
    window.set_document(doc, None)
    window.session.check_now()
    view = window.current_view()
    view.frame_all()
    assert not view.viewport().grab().isNull()
    view.zoom_by(3)
    view.pan_by(view.viewport().rect().center())
    assert not view.viewport().grab().isNull()
    assert window.session.reports["main"].ok, window.session.reports["main"].errors[:3]
    assert len(window.current_scene().nodes) == len(doc.network("main").nodes)


def test_revert_new_and_the_recent_and_preset_menus(window, tmp_path, lenet):
    assert window.open_path(str(lenet))
    window.session.set_param("main", "fc1", "out_features", 3)
    assert window.files.revert()
    assert window.session.document.network("main").nodes["fc1"].params["out_features"] == 500
    assert not window.isWindowModified()
    window.menus.recent.aboutToShow.emit()
    assert str(lenet.resolve()) in [a.text() for a in window.menus.recent.actions()]
    window.menus.presets.aboutToShow.emit()
    assert len([a for a in window.menus.presets.actions() if a.isEnabled()]) == len(PRESETS)
    assert window.new_document()
    assert list(window.session.document.network("main").nodes) == ["x", "out"]
    assert window.windowTitle() == "Untitled[*] — NetCanvas"


def test_void_qt_calls_keep_none_alive(qapp):
    """PySide6 6.12.0 on Python 3.11 drops a reference to None per void call and the
    process aborts after a few frames; pyproject.toml excludes it, this catches a relapse."""
    import sys

    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(20_000):
        probe.setObjectName("x")
    assert sys.getrefcount(None) >= before
