"""Text on the canvas: the card fonts, measured word wrap, and short number formats.

Cards, wires, the wiring hint, the inspector and the status bar all format
counts and values the same way; the fonts are made once, after the
QApplication exists, and shared with their metrics.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from PySide6.QtGui import QFontMetricsF

from engine.runs.space import parse_value
from gui import theme


@cache
def fonts() -> dict[str, Any]:
    """The card fonts and their metrics (made once, after the QApplication exists)."""
    made = {"title": theme.font(9.5, bold=True), "block": theme.font(8.0),
            "body": theme.font(8.5), "mono": theme.font(8.0, mono=True),
            "small": theme.font(7.5)}
    return {**made, **{f"{k}_fm": QFontMetricsF(v) for k, v in made.items()}}


def wrap_text(text: str, fm: QFontMetricsF, width: float) -> list[str]:
    """Greedy word wrap by measured width (long words are split where they must be)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if fm.horizontalAdvance(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while fm.horizontalAdvance(word) > width:
            cut = max(1, int(len(word) * width / fm.horizontalAdvance(word)))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def fmt_count(n: int) -> str:
    """431080 -> '431.1k': short enough for a card footer."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n / 1_000_000_000:.2f}G"


def fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return "×".join(map(str, value)) if value else "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def plural(n: int, word: str) -> str:
    """`1 error`, `2 errors`: counts in the status bar read as English."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_option(value: Any) -> str:
    """The text of an option's field: the inverse of `parse_value`, so a path reads
    `flowers.csv`; a text that would parse as something else (`"28"`) keeps its quotes."""
    if isinstance(value, str) and value.strip() == value and parse_value(value) == value:
        return value
    return json.dumps(value)
