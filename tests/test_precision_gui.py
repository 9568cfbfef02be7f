"""The Training tab offers precision and compile (from the schema) and writes them to the document."""

from __future__ import annotations

from gui.editor.session import EditorSession
from gui.editor.training_editor import TrainingEditor
from tests.helpers import iris_mlp


def test_the_training_tab_edits_precision_and_compile(qtbot):
    doc = iris_mlp()
    form = TrainingEditor()
    qtbot.addWidget(form)
    form.set_session(EditorSession(doc))
    precision, compile_box = form.fields["precision"].widget, form.fields["compile"].widget
    assert [precision.itemText(i) for i in range(precision.count())] == ["fp32", "bf16", "fp16"]
    assert precision.currentText() == "fp32" and not compile_box.isChecked()  # the defaults
    precision.setCurrentText("bf16")
    compile_box.setChecked(True)
    assert doc.training["precision"] == "bf16" and doc.training["compile"] is True
    form.set_session(None)
