"""Picking a dataset in the Training tab brings its epochs and learning rate (one undo
step), and early stopping is a section of the tab."""

from __future__ import annotations

import pytest

from engine.readwrite import document_to_json
from gui.editor.session import EditorSession
from gui.editor.training_editor import TrainingEditor
from tests.helpers import iris_mlp


@pytest.fixture
def editor(qtbot):
    doc = iris_mlp(dataset="xor", optimizer={"name": "sgd"})
    del doc.training["epochs"]  # as File ▸ New leaves them: the person chose none
    session = EditorSession(doc)
    form = TrainingEditor()
    qtbot.addWidget(form)
    form.set_session(session)
    form.show()
    yield form
    form.set_session(None)


def test_picking_a_dataset_applies_its_defaults_as_one_undoable_edit(editor):
    doc = editor.session.document
    before, steps = document_to_json(doc), editor.session.undo_stack.count()
    editor.dataset.setCurrentText("iris")
    assert doc.training["dataset"] == "iris" and doc.training["epochs"] == 50
    assert doc.training["optimizer"] == {"name": "sgd", "lr": 0.01}  # the name is kept
    assert editor.epochs.value() == 50 and editor.lr.value() == pytest.approx(0.01)
    assert editor.session.undo_stack.count() == steps + 1
    editor.session.undo_stack.undo()
    assert document_to_json(doc) == before


def test_a_dataset_without_defaults_changes_only_the_dataset(editor):
    doc = editor.session.document
    editor.dataset.setCurrentText("sine")
    assert doc.training["dataset"] == "sine" and "epochs" not in doc.training


def test_the_persons_own_epochs_and_rate_are_kept(editor):
    doc = editor.session.document
    editor.epochs.setValue(7)
    editor.lr.setValue(0.2)
    editor.dataset.setCurrentText("iris")
    assert doc.training["epochs"] == 7 and doc.training["optimizer"]["lr"] == 0.2


def test_the_previous_datasets_defaults_give_way_to_the_new_ones(editor):
    doc = editor.session.document
    editor.dataset.setCurrentText("iris")
    editor.dataset.setCurrentText("digits")
    assert doc.training["epochs"] == 20 and doc.training["optimizer"]["lr"] == 0.003


def test_early_stopping_is_shown_and_edits_its_section(editor):
    patience = editor.fields["early_stopping.patience"].widget
    assert editor.form.isRowVisible(patience)
    patience.setValue(4)
    assert editor.session.document.training["early_stopping"] == {"patience": 4}
    editor.task.setCurrentText("dqn")
    assert not editor.form.isRowVisible(patience)


def test_unset_epochs_and_rate_show_what_the_trainer_will_use(qtbot):
    doc = iris_mlp(optimizer={"name": "adam"})
    del doc.training["epochs"]
    form = TrainingEditor()
    qtbot.addWidget(form)
    form.set_session(EditorSession(doc))
    assert form.epochs.value() == 50 and form.lr.value() == pytest.approx(0.01)
    assert "epochs" not in doc.training  # shown, not written
    form.set_session(None)
