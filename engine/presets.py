"""The presets: one ready-to-train document per architecture, with its own target.

Each preset carries an `expect` record (an extra top-level key, kept by the
file format like any unknown key) naming the metric it must reach and the
published figure it compares with; the slow tests and
`benchmarks/presets_benchmark.py` read it, so the target lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.document import Document
from engine.errors import NetCanvasError
from engine.readwrite import load_json_document

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "lenet_digits"


def preset_paths() -> list[Path]:
    return sorted(PRESETS_DIR.glob("*.json"))


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.json"
    if not path.exists():
        known = ", ".join(p.stem for p in preset_paths())
        raise NetCanvasError(f"no preset '{name}' (known: {known})")
    return path


def load_preset(name: str) -> Document:
    return load_json_document(preset_path(name))


@dataclass(frozen=True)
class Expectation:
    """What a preset must reach: `metric` ≥ `at_least` and/or ≤ `at_most`, maybe beating another."""

    metric: str
    reference: str
    at_least: float | None = None
    at_most: float | None = None
    beats: str | None = None
    max_seconds: float | None = None

    @classmethod
    def of(cls, doc: Document) -> Expectation | None:
        raw = doc.extra.get("expect")
        return cls(**raw) if isinstance(raw, dict) else None

    def target_text(self) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f"≥ {self.at_least:g}")
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:g}")
        if self.beats:
            parts.append(f"> {self.beats}")
        if self.max_seconds is not None:
            parts.append(f"in ≤ {self.max_seconds:g} s")
        return ", ".join(parts) or "reported"

    def met(self, metrics: dict[str, Any], seconds: float,
            others: dict[str, dict[str, Any]] | None = None) -> bool:
        value = metrics.get(self.metric)
        if value is None:
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        if self.at_most is not None and value > self.at_most:
            return False
        if self.max_seconds is not None and seconds > self.max_seconds:
            return False
        if self.beats:
            rival = (others or {}).get(self.beats, {}).get(self.metric)
            if rival is None or value <= rival:
                return False
        return True
