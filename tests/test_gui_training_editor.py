"""The Training tab is built from engine/training/schema: fields, choices, visibility, undo."""

from __future__ import annotations

import pytest

from engine.data import REGISTRY
from engine.training import schema
from engine.training.setup import available_devices
from gui.editor.session import EditorSession
from gui.editor.training_editor import TrainingEditor
from tests.helpers import iris_mlp


@pytest.fixture
def editor(qtbot):
    doc = iris_mlp()
    session = EditorSession(doc)
    form = TrainingEditor()
    qtbot.addWidget(form)
    form.set_session(session)
    form.show()
    yield form
    form.set_session(None)


def _items(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def _visible(editor, key: str) -> bool:
    return editor.form.isRowVisible(editor.fields[key].widget)


def _undo_all(editor) -> None:
    stack = editor.session.undo_stack
    while stack.canUndo():
        stack.undo()


def test_every_declared_setting_has_a_field_with_its_doc(editor):
    declared = [s for s in schema.TOP_SETTINGS.values() if s.key != "dataset"]
    declared += [s for sec in schema.SECTIONS.values() for s in sec.settings if s.kind != "object"]
    keys = {f"{s.section}.{s.key}" if s.section else s.key for s in declared}
    assert set(editor.fields) == keys
    for setting in declared:
        field = editor.fields[f"{setting.section}.{setting.key}" if setting.section else setting.key]
        assert setting.doc in field.widget.toolTip() and setting.path in field.widget.toolTip()


def test_choices_come_from_the_engine_not_from_the_gui(editor):
    assert _items(editor.task) == list(schema.TASKS)
    loss = schema.lookup("", "loss")
    assert _items(editor.loss) == ["auto", *loss.choices_for("classification")]
    assert _items(editor.optimizer) == list(schema.OPTIMIZERS)
    assert sorted(_items(editor.dataset)) == sorted(REGISTRY)
    assert _items(editor.device) == available_devices()


def test_a_paradigms_section_appears_for_its_task_and_undo_hides_it(editor):
    doc = editor.session.document
    assert not _visible(editor, "dqn.gamma") and not editor.form.isRowVisible(editor.headers["dqn"])
    assert _visible(editor, "lr_schedule.name")
    editor.task.setCurrentText("dqn")
    assert doc.training["task"] == "dqn"
    assert _visible(editor, "dqn.gamma") and editor.form.isRowVisible(editor.headers["dqn"])
    assert not _visible(editor, "lr_schedule.name") and not _visible(editor, "gan.d_steps")
    # the file's value stays shown; auto is the task's own default
    assert _items(editor.loss) == ["auto", "huber", "mse", "cross_entropy"]
    _undo_all(editor)
    assert doc.training["task"] == "classification" and not _visible(editor, "dqn.gamma")


def test_fields_of_one_optimizer_show_only_for_it(editor):
    assert _visible(editor, "optimizer.betas") and not _visible(editor, "optimizer.momentum")
    editor.optimizer.setCurrentText("sgd")
    assert editor.session.document.training["optimizer"] == {"name": "sgd", "lr": 0.01}
    assert _visible(editor, "optimizer.momentum") and _visible(editor, "optimizer.nesterov")
    assert not _visible(editor, "optimizer.betas")


def test_auto_removes_a_key_whose_default_depends_on_the_task(editor):
    doc = editor.session.document
    editor.task.setCurrentText("gan")
    assert editor.loss.currentText() == "cross_entropy"  # the file's value
    editor.loss.setCurrentText("auto")
    assert "loss" not in doc.training  # the GAN picks bce or bce_logits from the network
    editor.loss.setCurrentText("bce")
    assert doc.training["loss"] == "bce"


def test_section_edits_change_one_key_and_are_undoable(editor):
    doc = editor.session.document
    before = dict(doc.training)
    editor.task.setCurrentText("dqn")
    gamma = editor.fields["dqn.gamma"].widget
    assert gamma.value() == 0.99  # the declared default, shown though absent from the file
    gamma.setValue(0.9)
    assert doc.training["dqn"] == {"gamma": 0.9}
    episodes = editor.fields["dqn.episodes"].widget
    assert episodes.text() == "auto"  # computed at run time from training.epochs
    episodes.setValue(40)
    assert doc.training["dqn"] == {"gamma": 0.9, "episodes": 40}
    episodes.setValue(episodes.minimum())
    assert doc.training["dqn"] == {"gamma": 0.9}
    _undo_all(editor)
    assert doc.training == before


def test_betas_are_typed_as_a_list_and_a_bad_list_is_refused(editor):
    doc = editor.session.document
    betas = editor.fields["optimizer.betas"].widget
    assert betas.text() == "0.9, 0.999"
    betas.textEdited.emit("0.5, 0.999")
    assert doc.training["optimizer"]["betas"] == [0.5, 0.999]
    betas.textEdited.emit("0.5, 1.5")
    assert betas.property("invalid") and "expected a list of 2 numbers" in betas.toolTip()
    betas.textEdited.emit("fast")
    assert doc.training["optimizer"]["betas"] == [0.5, 0.999]


def test_the_schemas_findings_show_under_the_form_and_on_the_field(editor):
    editor.session.set_training("optimizer", {"name": "adam", "lr": -1})
    editor.session.set_training("epoch", 5)
    text = editor.problems.text()
    assert "training.optimizer.lr: expected a number &gt; 0, got -1" in text \
        or "training.optimizer.lr: expected a number > 0, got -1" in text
    assert "did you mean epochs?" in text
    lr = editor.fields["optimizer.lr"].widget
    assert lr.property("invalid") and "expected a number > 0, got -1" in lr.toolTip()
    _undo_all(editor)
    assert not editor.form.isRowVisible(editor.problems)
    assert not editor.fields["optimizer.lr"].widget.property("invalid")
