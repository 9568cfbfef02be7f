"""Typed editors generated from a block's `Param` declarations.

int → spin box with the declared range, float → spin box with adaptive steps,
bool → check box, choice → combo box, ints → a line edit that accepts
"1, 28, 28", str → a line edit. Each editor calls `on_change(value)` on every
valid edit (so edits apply at once) and can be updated from the model without
echoing back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from engine.blocks.base import Param

INT_LIMIT = 2**31 - 1


class FloatSpinBox(QDoubleSpinBox):
    """Shows 0.001 as '0.001' and 0.5 as '0.5', not '0.001000'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(10)
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()


def parse_ints(text: str) -> list[int]:
    """'1, 28, 28' or '1×28×28' or '[1 28 28]' -> [1, 28, 28]; ValueError otherwise."""
    cleaned = text.strip().strip("[]()")
    if not cleaned:
        return []
    parts = [p for p in re.split(r"[\s,×x*]+", cleaned) if p]
    return [int(p) for p in parts]


def param_tooltip(param: Param) -> str:
    lines = [f"<b>{param.name}</b> ({param.kind}) — {param.doc}"]
    if param.min is not None or param.max is not None:
        lo = "−∞" if param.min is None else f"{param.min:g}"
        hi = "∞" if param.max is None else f"{param.max:g}"
        lines.append(f"range {lo} … {hi}")
    if param.choices:
        lines.append("choices: " + ", ".join(map(str, param.choices)))
    lines.append(f"default: {param.default!r}")
    return "<br>".join(lines)


class ParamEditor:
    """One parameter's widget; `set_value` updates it without calling `on_change`."""

    def __init__(self, param: Param, value: Any, on_change: Callable[[Any], None]) -> None:
        self.param = param
        self.on_change = on_change
        self._quiet = False
        self.widget = self._build()
        self.widget.setToolTip(param_tooltip(param))
        self.widget.setObjectName(f"param_{param.name}")
        self.set_value(value)

    def _build(self) -> QWidget:
        kind = self.param.kind
        if kind == "int":
            w = QSpinBox()
            lo = -INT_LIMIT if self.param.min is None else max(-INT_LIMIT, int(self.param.min))
            hi = INT_LIMIT if self.param.max is None else min(INT_LIMIT, int(self.param.max))
            w.setRange(lo, hi)
            w.setKeyboardTracking(True)
            w.valueChanged.connect(self._emit)
        elif kind == "float":
            w = FloatSpinBox()
            lo = -1e12 if self.param.min is None else float(self.param.min)
            hi = 1e12 if self.param.max is None else float(self.param.max)
            w.setRange(lo, hi)
            w.valueChanged.connect(self._emit)
        elif kind == "bool":
            w = QCheckBox()
            w.toggled.connect(self._emit)
        elif kind == "choice":
            w = QComboBox()
            w.addItems([str(c) for c in self.param.choices])
            w.currentIndexChanged.connect(lambda i: self._emit(self.param.choices[i]))
        else:  # "ints" and "str"
            w = QLineEdit()
            if kind == "ints":
                w.setPlaceholderText("e.g. 1, 28, 28")
            w.textEdited.connect(self._text_edited)
        return w

    def set_value(self, value: Any) -> None:
        self._quiet = True
        try:
            w, kind = self.widget, self.param.kind
            if kind in ("int", "float"):
                if kind == "float" and isinstance(value, float) and not math.isfinite(value):
                    value = self.param.default
                if w.value() != value:
                    w.setValue(value)
            elif kind == "bool":
                w.setChecked(bool(value))
            elif kind == "choice":
                if value in self.param.choices:
                    w.setCurrentIndex(list(self.param.choices).index(value))
            elif kind == "ints":
                text = ", ".join(map(str, value or []))
                if not self._same_ints(w.text(), value):
                    w.setText(text)
                self._mark(None)
            elif w.text() != str(value):
                w.setText(str(value))
        finally:
            self._quiet = False

    @staticmethod
    def _same_ints(text: str, value: Any) -> bool:
        try:
            return parse_ints(text) == list(value or [])
        except ValueError:
            return False

    def _emit(self, value: Any) -> None:
        if not self._quiet:
            self.on_change(value)

    def _text_edited(self, text: str) -> None:
        if self.param.kind == "str":
            self._emit(text)
            return
        try:
            values = parse_ints(text)
        except ValueError:
            self._mark("write whole numbers separated by commas, e.g. 1, 28, 28")
            return
        self._mark(None)
        self._emit(values)

    def _mark(self, problem: str | None) -> None:
        w = self.widget
        w.setProperty("invalid", problem is not None)
        w.setToolTip(param_tooltip(self.param) + (f"<br><b>{problem}</b>" if problem else ""))
        w.style().unpolish(w)
        w.style().polish(w)
