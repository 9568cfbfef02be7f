"""The rough edges a new user hit in the window (issue 12), each held by a test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt, QUrl, qVersion

from engine import save_document
from engine.presets import PRESETS_DIR
from engine.training import Episode, Started
from gui.editor import palette as palette_module
from gui.plots import progress as progress_module
from gui.plots.progress import ProgressWidget
from gui.training.controller import PAUSED
from tests.helpers import iris_mlp

TIMEOUT_MS = 60_000
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def iris(window, tmp_path) -> Path:
    """The window on a small iris MLP saved as iris.json (3 epochs on the CPU)."""
    path = tmp_path / "iris.json"
    save_document(iris_mlp(epochs=3), path)
    assert window.open_path(str(path))
    yield path
    window.run_control.shutdown()
    window.tasks.wait(10_000)


def train(window, qtbot, resume: bool = False) -> None:
    with qtbot.waitSignal(window.run_control.controller.finished, timeout=TIMEOUT_MS):
        assert window.run_control.run(resume=resume)


# ---- 1. Run ▸ Save Trained Model saves the document -------------------------------------

def test_save_trained_model_marks_the_document_saved(window, qtbot, iris, tmp_path):
    train(window, qtbot)
    assert window.isWindowModified()
    bundle = tmp_path / "trained.ncz"
    window.dialogs.next_save = str(bundle)
    window.exports.save_trained_action.trigger()
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=TIMEOUT_MS)
    assert bundle.exists() and window.path == str(bundle)
    assert window.windowTitle().startswith("trained.ncz")
    window.dialogs.save_answer = "cancel"  # a prompt now would keep the window open
    window.close()
    assert not window.isVisible()
    assert not [q for q in window.dialogs.asked if q.startswith("save:")]


def test_a_graph_edited_after_training_saves_as_a_bundle_that_opens(window, qtbot, iris,
                                                                    tmp_path):
    """Train, resize a layer, Ctrl+S as .ncz: the weights no longer fit and are left out
    (the log says so) instead of writing a bundle that could never be opened again."""
    train(window, qtbot)
    linear = next(n.id for n in window.session.document.network("main").nodes.values()
                  if n.block == "Linear")
    assert window.session.set_param("main", linear, "out_features", 5)
    bundle = tmp_path / "edited.ncz"
    assert window.files.save_to(str(bundle))
    assert "changed since it was trained" in window.log.toPlainText()
    assert window.open_path(str(bundle))
    assert window.session.document.network("main").nodes[linear].params["out_features"] == 5
    assert window.session.document.weights == {}


def test_close_prompt_suggests_a_bundle_beside_the_document(window, qtbot, iris):
    train(window, qtbot)
    window.dialogs.save_answer, window.dialogs.next_save = "save", None  # then cancel the box
    assert not window.files.maybe_save_changes()
    assert window.dialogs.suggested[-1] == (str(iris.with_suffix(".ncz")), True)


# ---- 2. another document, a fresh progress line -----------------------------------------

def test_opening_another_document_clears_the_last_runs_progress_line(window, qtbot, iris, lenet):
    train(window, qtbot)
    progress = window.run_control.panel.progress
    assert progress.label.text().startswith("Finished")
    assert window.open_path(str(lenet))
    assert progress.label.text() == "Ready" and progress.bar.value() == 0


# ---- 3. the Log opens on its newest line -------------------------------------------------

def test_the_log_shows_its_newest_line_when_opened(window, qtbot, lenet):
    window.open_path(str(lenet))
    qtbot.waitUntil(lambda: window.log.visibleRegion().isEmpty())  # behind the Plots tab
    for i in range(300):
        window.log_line(f"line {i}")
    window.docks["logDock"].raise_()
    qtbot.waitUntil(lambda: not window.log.visibleRegion().isEmpty())
    bar = window.log.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()


# ---- 4. paused, resumed, and the DQN's estimate ------------------------------------------

def test_a_paused_run_says_paused_without_rate_or_eta(window, qtbot, tmp_path):
    path = tmp_path / "long.json"
    save_document(iris_mlp(epochs=100_000), path)
    window.open_path(str(path))
    controller = window.run_control.controller
    assert window.run_control.run()
    with qtbot.waitSignal(controller.state_changed, check_params_cb=lambda s: s == PAUSED,
                          timeout=TIMEOUT_MS):
        window.run_control.pause_action.trigger()
    progress = window.run_control.panel.progress
    progress.samples_per_s = 1234.0  # whatever was measured before the pause
    progress.update_text()
    text = progress.label.text()
    assert text.startswith("paused") and "samples/s" not in text and "ETA" not in text
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT_MS):
        window.run_control.stop_action.trigger()
    window.run_control.shutdown()


def test_the_bar_after_continue_counts_the_whole_run(window, qtbot, iris):
    train(window, qtbot)
    window.session.set_training("epochs", 6)
    assert window.run_control.continue_action.isEnabled()
    progress, seen = window.run_control.panel.progress, []

    def on_event(event) -> None:
        if type(event).__name__ == "Epoch":
            progress.update_text()
            seen.append((event.epoch, progress.bar.value()))

    window.run_control.controller.event.connect(on_event)
    train(window, qtbot, resume=True)
    assert seen == [(4, 667), (5, 833), (6, 1000)]


def test_the_dqn_estimate_says_it_stops_when_solved(qapp, monkeypatch):
    clock = iter([100.0, 110.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    widget = ProgressWidget()
    widget.handle(Started("dqn", "cpu", {"q_network": 10}, total_epochs=500))
    widget.handle(Episode(50, 20.0, 20, 0.5, 0.1))
    widget.handle(Episode(200, 80.0, 80, 0.2, 0.4))
    widget.update_text()
    assert "at most 0:20 (stops when solved)" in widget.label.text()
    assert "ETA" not in widget.label.text()


# ---- 8. one device picker ----------------------------------------------------------------

def test_the_toolbar_device_picker_edits_the_document_like_the_training_tab(window, lenet):
    window.open_path(str(lenet))
    box, tab = window.run_control.device_box, window.training_editor.device
    assert box.currentText() == tab.currentText() == "auto"
    box.setCurrentIndex(box.findText("cpu"))
    box.activated.emit(box.currentIndex())
    assert window.session.document.training["device"] == "cpu" and tab.currentText() == "cpu"
    window.actions_.undo.trigger()
    assert window.session.document.training["device"] == "auto"
    assert box.currentText() == tab.currentText() == "auto"
    window.session.set_training("device", "cpu")  # as the Training tab writes it
    assert box.currentText() == "cpu"


# ---- 9. plurals, the palette after a drag, presets through File ▸ Open ----------------------

def test_one_error_is_singular(window, lenet):
    window.open_path(str(lenet))
    net = window.session.document.network("main")
    assert window.session.disconnect("main", [net.incoming("out")["in"]])  # Output unwired
    window.session.check_now()
    assert window.problems.problem_count()[0] == 1
    assert "✖ 1 error" in window.totals_label.text() and "1 errors" not in window.totals_label.text()


def test_a_dragged_palette_block_is_not_left_highlighted(window, monkeypatch):
    dragged: list[bytes] = []

    class Drag:
        def __init__(self, source) -> None:
            self.mime = None

        def setMimeData(self, mime) -> None:
            self.mime = mime

        def exec(self, *actions) -> Qt.DropAction:
            dragged.append(bytes(self.mime.data(palette_module.BLOCK_MIME)))
            return Qt.DropAction.CopyAction

    monkeypatch.setattr(palette_module, "QDrag", Drag)
    tree = window.palette.tree
    tree.setCurrentItem(window.palette.items["Linear"])  # what the press does
    assert tree.selectedItems()
    tree.startDrag(Qt.DropAction.CopyAction)
    assert tree.selectedItems() == [] and tree.currentItem() is None
    assert dragged == [b"Linear"]


def test_a_preset_opened_through_file_open_is_a_preset(window):
    preset = PRESETS_DIR / "lenet_digits.json"
    window.dialogs.next_open = str(preset)
    assert window.files.open_dialog()
    assert window.template and window.path is None
    assert "(preset)" in window.windowTitle()


# ---- 10. Help ------------------------------------------------------------------------------

def test_help_menu_documentation_shortcuts_and_about(window, lenet):
    window.open_path(str(lenet))
    items = [a.text().replace("&", "") for a in window.menus.help.actions() if not a.isSeparator()]
    assert items == ["Documentation", "Keyboard Shortcuts", "About NetCanvas"]
    window.help.docs_action.trigger()  # nothing selected: the README
    browser = window.help.browser
    assert browser.isVisible() and browser.current == "README.md"
    assert "netcanvas" in browser.browser.toPlainText().lower()
    for row in range(browser.index.count()):  # every page renders, offline
        browser.index.setCurrentRow(row)
        assert browser.browser.toPlainText().strip(), browser.index.item(row).text()
    window.help.shortcuts_action.trigger()
    shortcuts = browser.browser.toPlainText()
    assert "Run Training" in shortcuts and "F5" in shortcuts and "Documentation" in shortcuts
    window.help.about_action.trigger()
    title, text = window.dialogs.infos[-1]
    assert title == "About NetCanvas" and "NetCanvas " in text
    assert torch.__version__ in text and qVersion() in text and "device" in text


def test_f1_on_a_selected_block_opens_its_page(window, lenet, qapp):
    window.open_path(str(lenet))
    assert window.help.docs_action.shortcut().toString() == "F1"
    window.current_scene().select_nodes(["conv1"])
    window.help.docs_action.trigger()
    browser = window.help.browser
    qapp.processEvents()  # showing the page list must not switch to its first page
    text = browser.browser.toPlainText()
    assert browser.current == "block:Conv2d"
    assert "Conv2d" in text and "out_channels" in text and "kernel_size" in text


def test_doc_links_stay_in_the_browser(window):
    browser = window.help.show_page("blocks")
    browser._follow(QUrl("block:Linear"))
    assert browser.current == "block:Linear" and "out_features" in browser.browser.toPlainText()
    browser.show_page(ROOT / "README.md")
    browser._follow(QUrl("docs/architecture.md"))
    assert browser.current == "architecture.md"


# ---- 7. the Dataset box takes a single click and keeps its own Ctrl+A ------------------


def test_one_click_in_the_dataset_box_gives_it_the_cursor_and_ctrl_a(window, qtbot, lenet):
    """Issue 12, point 7: a single click must put the cursor in the Dataset box, and
    Ctrl+A there selects its text, not every block on the canvas."""
    assert window.open_path(str(lenet))
    window.activateWindow()
    qtbot.waitExposed(window)
    dock = window.training_editor.parentWidget()
    dock.raise_()
    box = window.training_editor.dataset
    window.training_editor.ensureWidgetVisible(box)
    qtbot.waitUntil(box.isVisible)
    qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(box.lineEdit().hasFocus)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert box.lineEdit().selectedText() == box.currentText() != ""
    assert not window.current_scene().selectedItems()


def test_a_text_option_reads_as_typed_without_json_quotes():
    """The path of one's own data shows flowers.csv, not "flowers.csv"; a text that
    would read as a number keeps its quotes so it stays text."""
    from engine.runs.space import parse_value
    from gui.editor.text import format_option

    assert format_option("flowers.csv") == "flowers.csv"
    assert format_option("28") == '"28"'
    assert format_option(28) == "28"
    assert format_option(["a", 1]) == '["a", 1]'
    for value in ("flowers.csv", "28", 28, True, "true", ["a", 1], "", " x"):
        assert parse_value(format_option(value)) == value or format_option(value) == ""
