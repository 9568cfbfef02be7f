"""One training setting's widget, generated from its declaration in engine/training/schema.

int → spin box with the declared range, float → spin box, bool → check box,
choice → combo box, floats (Adam's betas) → a line edit that takes "0.9, 0.999".
A setting whose default is worked out at run time offers "auto" (the spin box's
lowest value, the combo's first item, or an empty line edit): choosing it
removes the key, so the run computes the value again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from engine.training.schema import Setting
from engine.training.schema.spec import describe
from gui.editor.param_editors import INT_LIMIT, FloatSpinBox

REMOVE = object()  # on_change(REMOVE): take the key out of the document
AUTO = "auto"


def setting_tooltip(setting: Setting, task: str | None = None, problem: str | None = None) -> str:
    """Path, doc, what a value must be and the default: the declaration, as a tooltip."""
    default = setting.default_for(task)
    shown = f"auto ({setting.computed})" if default is None else describe(
        list(default) if isinstance(default, tuple) else default)
    lines = [f"<b>{setting.path}</b> — {setting.doc}", f"{setting.expected(task)}",
             f"default: {shown}"]
    if problem:
        lines.append(f"<b>{problem}</b>")
    return "<br>".join(lines)


class SettingField:
    """A setting's widget; `show` updates it without calling `on_change`."""

    def __init__(self, setting: Setting, on_change: Callable[[Any], None]) -> None:
        self.setting = setting
        self.on_change = on_change
        # "auto" is offered where the value is worked out at run time (for some task)
        self.computed = setting.default is None or None in setting.by_task.values()
        self._quiet = False
        self.widget = self._build()
        self.widget.setObjectName(f"setting_{setting.section or 'training'}_{setting.key}")
        self.widget.setToolTip(setting_tooltip(setting))

    def _build(self) -> QWidget:
        s = self.setting
        if s.kind == "int":
            box = QSpinBox()
            low = int(s.low) if s.low is not None else -INT_LIMIT
            box.setRange(low - 1 if self.computed else low,
                         int(s.high) if s.high is not None else INT_LIMIT)
            if self.computed:
                box.setSpecialValueText(AUTO)
            box.valueChanged.connect(self._number)
            return box
        if s.kind == "float" and not self.computed:
            box = FloatSpinBox()
            low = -1e12 if s.low is None else s.low + (1e-10 if s.open_low else 0.0)
            box.setRange(low, 1e12 if s.high is None else s.high)
            box.valueChanged.connect(self._emit)
            return box
        if s.kind == "bool":
            box = QCheckBox()
            box.toggled.connect(self._emit)
            return box
        if s.kind in ("choice", "device"):
            box = QComboBox()
            self.set_choices(box, s.choices)
            box.setEditable(s.kind == "device")  # cuda:3 on a bigger machine may be typed
            box.currentTextChanged.connect(self._choice)
            return box
        edit = QLineEdit()  # floats, and floats computed when absent
        edit.setPlaceholderText(AUTO if self.computed else "e.g. 0.9, 0.999")
        edit.textEdited.connect(self._text)
        return edit

    def set_choices(self, box: QComboBox, choices: tuple[Any, ...]) -> None:
        items = ([AUTO] if self.computed else []) + [str(c) for c in choices]
        if [box.itemText(i) for i in range(box.count())] != items:
            current = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItems(items)
            box.setCurrentText(current)
            box.blockSignals(False)

    # ---- model -> widget ----------------------------------------------------------------

    def show(self, value: Any, task: str | None, name: str | None) -> None:
        """Show the document's value, or the default for this task and section name."""
        s = self.setting
        if value is None:
            value = s.default_for(task, name)
        self._quiet = True
        try:
            w = self.widget
            if isinstance(w, QComboBox):
                if s.kind == "choice":
                    self.set_choices(w, s.choices_for(task))
                text = AUTO if value is None else str(value)
                if w.findText(text) < 0:
                    w.addItem(text)  # a value the task does not take stays visible
                w.setCurrentText(text)
            elif isinstance(w, QSpinBox):
                number = w.minimum() if value is None else value
                w.setValue(int(number) if isinstance(number, int | float) else w.minimum())
            elif isinstance(w, FloatSpinBox):
                w.setValue(float(value) if isinstance(value, int | float) else 0.0)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif not w.hasFocus():
                w.setText(_as_text(value))
        finally:
            self._quiet = False

    def mark(self, problem: str | None, task: str | None = None) -> None:
        """Show a check finding on the widget (red frame, reason in the tooltip)."""
        w = self.widget
        w.setProperty("invalid", problem is not None)
        w.setToolTip(setting_tooltip(self.setting, task, problem))
        w.style().unpolish(w)
        w.style().polish(w)

    # ---- widget -> model ----------------------------------------------------------------

    def _emit(self, value: Any) -> None:
        if not self._quiet:
            self.on_change(value)

    def _number(self, value: int) -> None:
        self._emit(REMOVE if self.computed and value == self.widget.minimum() else value)

    def _choice(self, text: str) -> None:
        self._emit(REMOVE if self.computed and text == AUTO else text)

    def _text(self, text: str) -> None:
        if not text.strip():
            self._emit(REMOVE)
            return
        try:
            parts = [float(p) for p in text.replace(";", ",").split(",") if p.strip()]
        except ValueError:
            self.mark(f"write numbers{' separated by commas' if self.setting.kind == 'floats' else ''}")
            return
        value: Any = parts if self.setting.kind == "floats" else (parts[0] if len(parts) == 1
                                                                  else None)
        problem = None if value is not None else "write one number"
        problem = problem or self.setting.type_error(value) or self.setting.range_error(value)
        self.mark(problem)
        if problem is None:
            self._emit(value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)
