"""metrics.csv: one row per logged step, epoch or episode, one column per metric.

Columns are the union of every metric seen, in order of first appearance;
when a later row brings a new one (a GAN's second loss, a closing test
metric), the file is rewritten once with the wider header. Reading turns it
back into curves for the Runs panel and `netcanvas runs diff`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

FIXED = ("kind", "step", "epoch", "time")


class CsvLog:
    """Appends rows to one CSV file, widening its header when new columns appear."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] = list(FIXED)
        self.rows_written = 0
        path.write_text(",".join(self.columns) + "\n", encoding="utf-8")

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        fresh = [key for row in rows for key in row if key not in self.columns]
        if fresh:
            self.columns += list(dict.fromkeys(fresh))
            self._rewrite()
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns, restval="")
            writer.writerows(_clean(row) for row in rows)
        self.rows_written += len(rows)

    def _rewrite(self) -> None:
        """The rows so far under the widened header (rare: only when a new metric appears)."""
        with self.path.open(newline="", encoding="utf-8") as handle:
            old = list(csv.DictReader(handle))
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns, restval="")
            writer.writeheader()
            writer.writerows(old)
        tmp.replace(self.path)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (repr(float(v)) if isinstance(v, float) else v) for k, v in row.items()}


def read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []


def read_curves(path: Path) -> dict[str, list[tuple[float, float]]]:
    """Each metric column as (x, value) points: steps for step rows, epochs for epoch rows."""
    curves: dict[str, list[tuple[float, float]]] = {}
    for row in read_rows(path):
        kind = row.get("kind")
        x_text = row.get("epoch") if kind == "epoch" else row.get("step") or row.get("episode")
        x = _number(x_text)
        if x is None:
            continue
        for key, text in row.items():
            value = _number(text)
            if key in FIXED or key == "episode" or value is None:
                continue
            curves.setdefault(key, []).append((x, value))
    return curves


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
