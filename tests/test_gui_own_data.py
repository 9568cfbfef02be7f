"""Own data in the Training tab: Browse… for the path, the columns and classes found, and the
CSV's target column chosen from a list (issue 12, rough edge 11)."""

from __future__ import annotations

import pytest

from gui.editor.session import EditorSession
from gui.editor.training_editor import TrainingEditor
from tests.helpers import iris_mlp

TIMEOUT_MS = 30_000


@pytest.fixture
def editor(qtbot):
    form = TrainingEditor()
    qtbot.addWidget(form)
    form.set_session(EditorSession(iris_mlp()))
    form.show()
    yield form
    form.set_session(None)


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "flowers.csv"
    rows = [f"{i},{i % 3 + 0.5},{i % 2}" for i in range(30)]
    path.write_text("length,width,kind\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_browse_sets_the_path_and_the_csv_columns_are_offered_as_targets(editor, qtbot, table):
    asked = []
    editor.pick_path = lambda parent, dataset, current: asked.append(dataset) or str(table)
    editor.dataset.setCurrentText("csv")
    button = [w for w in editor.options_host.findChildren(object) if w.objectName() == "browseData"]
    assert len(button) == 1
    info = editor.dataset_info
    with qtbot.waitSignal(info.summarised, timeout=TIMEOUT_MS,
                          check_params_cb=lambda found: found is not None):
        button[0].click()
    assert asked == ["csv"]
    assert editor.session.document.training["dataset"] == {"name": "csv", "path": str(table)}
    assert "2 feature columns: length, width; target: kind" in info.text()
    assert "2 classes: 0, 1" in info.text()
    box = editor.target_box
    assert [box.itemText(i) for i in range(box.count())] == ["length", "width", "kind"]
    assert box.currentText() == "kind"
    with qtbot.waitSignal(info.summarised, timeout=TIMEOUT_MS,
                          check_params_cb=lambda found: found and found.target_column == "width"):
        box.activated.emit(1)
    assert editor.session.document.training["dataset"]["target"] == "width"
    assert "target N×1" in info.text()  # a float column: regression


def test_an_image_folder_browses_for_a_folder(editor, tmp_path):
    asked = []
    editor.pick_path = lambda parent, dataset, current: asked.append(dataset) or str(tmp_path)
    editor.dataset.setCurrentText("image_folder")
    button = [w for w in editor.options_host.findChildren(object) if w.objectName() == "browseData"]
    button[0].click()
    assert asked == ["image_folder"]
    assert editor.session.document.training["dataset"]["path"] == str(tmp_path)


def test_a_named_dataset_has_no_browse_button(editor):
    editor.dataset.setCurrentText("digits")
    assert not [w for w in editor.options_host.findChildren(object)
                if w.objectName() == "browseData"]


def test_a_relative_csv_path_is_read_from_the_documents_folder(window, qtbot, table):
    from engine import save_document
    from tests.helpers import chain_document

    doc = chain_document([("Linear", {"out_features": 2})],
                         {"task": "classification", "dataset": {"name": "csv", "path": table.name}})
    path = table.parent / "doc.json"
    save_document(doc, path)
    assert window.open_path(str(path))
    window.session.check_now()
    assert window.session.reports["main"].ok, window.session.reports["main"].errors
    assert window.session.reports["main"].nodes["x"].outputs["out"] == (None, 2)
