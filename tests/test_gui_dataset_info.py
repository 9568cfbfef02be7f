"""The Training tab says what the dataset is, computed off the GUI thread, once per spec."""

from __future__ import annotations

import threading

from engine import save_document
from engine.data import summary
from tests.helpers import iris_mlp

TIMEOUT_MS = 30_000


def test_the_training_tab_shows_shape_classes_and_split_sizes_off_the_gui_thread(
        window, qtbot, tmp_path, monkeypatch):
    threads: list[threading.Thread] = []
    real = summary._cached

    def recording(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(summary, "_cached", recording)
    path = tmp_path / "iris.json"
    save_document(iris_mlp(), path)
    info = window.training_editor.dataset_info
    with qtbot.waitSignal(info.shown, timeout=TIMEOUT_MS,
                          check_params_cb=lambda text: "classes" in text):
        assert window.open_path(str(path))
    text = info.text()
    assert "input x N×4" in text and "3 classes: setosa, versicolor, virginica" in text
    assert "samples 105 train / 22 val / 23 test" in text
    assert threads and threading.main_thread() not in threads

    with qtbot.waitSignal(info.shown, timeout=TIMEOUT_MS,
                          check_params_cb=lambda text: "10 classes" in text):
        window.session.set_training("dataset", "digits")
    assert "N×1×8×8" in info.text() and "1,257 train" in info.text()
    calls = len(threads)
    window.session.undo_stack.undo()  # back to iris: answered from the cache, no new job
    assert "3 classes" in info.text() and len(threads) == calls
