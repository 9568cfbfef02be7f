"""The presets: one ready-to-train document per architecture, with its own target.

The JSON files live in the checkout's top-level `presets/` folder (tests and
docs name them there); `setup.py` maps that folder into the
wheel as `engine/preset_files/`, so an installed NetCanvas finds them beside
its own code. `presets_dir()` looks for the installed copy first and falls back
to the checkout. Nothing here imports torch: `netcanvas presets` stays quick.

Each preset carries an `expect` record (an extra top-level key, kept by the
file format like any unknown key) naming the metric it must reach and the
published figure it compares with; the slow tests and
`benchmarks/presets_benchmark.py` read it, so the target lives in one place.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import NetCanvasError

if TYPE_CHECKING:
    from engine.document import Document

PACKAGE = "engine.preset_files"  # where the wheel puts presets/*.json
CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "lenet_digits"


def presets_dir() -> Path:
    """The folder of the presets: the installed package data, else the checkout's `presets/`.

    `engine.preset_files` is a data-only (namespace) package, so its spec names
    the folder on disk; an editable install maps it onto the checkout's folder.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except ModuleNotFoundError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return CHECKOUT_DIR


PRESETS_DIR = presets_dir()


def preset_paths() -> list[Path]:
    return sorted(PRESETS_DIR.glob("*.json"))


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.json"
    if not path.exists():
        known = ", ".join(p.stem for p in preset_paths()) or f"none found in {PRESETS_DIR}"
        raise NetCanvasError(f"no preset '{name}' (known: {known})")
    return path


def is_preset_path(path: str | os.PathLike) -> bool:
    """Whether `path` is one of the presets' own files (to open as a template, never overwrite)."""
    try:
        return Path(path).resolve().parent == PRESETS_DIR.resolve()
    except OSError:
        return False


def load_preset(name: str) -> Document:
    from engine.readwrite import load_json_document

    return load_json_document(preset_path(name))


def resolve(target: str | os.PathLike) -> tuple[Path, str | None]:
    """The file a command argument means, and a note saying which was used when it is a name.

    A file of that name in the working folder wins (`lenet_digits` or
    `lenet_digits.json`); otherwise a bare name names the preset, so
    `netcanvas train lenet_digits` works from any folder and from a wheel.
    """
    path = Path(target)
    stem = path.name[:-5] if path.name.endswith(".json") else path.name
    is_name = path.parent == Path(".") and bool(stem) and path.suffix in ("", ".json")
    preset = PRESETS_DIR / f"{stem}.json" if is_name else None
    has_preset = preset is not None and preset.is_file()
    for local in (path, path.with_name(f"{stem}.json")) if is_name else (path,):
        if local.is_file():
            note = f"using ./{local} from the working folder, not the preset '{stem}'"
            return local, note if has_preset else None
    if has_preset:
        return preset, f"using the preset '{stem}' ({preset})"
    return path, None


@dataclass(frozen=True)
class PresetInfo:
    """One line of `netcanvas presets`, read from the JSON without building the document."""

    name: str
    path: Path
    title: str
    task: str
    dataset: str

    @classmethod
    def read(cls, path: Path) -> PresetInfo:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise NetCanvasError(f"{path}: cannot read the preset: {exc}") from exc
        training = raw.get("training") or {}
        dataset = training.get("dataset", "?")
        dataset = dataset.get("name", "?") if isinstance(dataset, dict) else str(dataset)
        return cls(path.stem, path, str(raw.get("name", path.stem)),
                   str(training.get("task", "?")), dataset)

    def line(self) -> str:
        return f"{self.title} ({self.task} on {self.dataset})"

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "path": str(self.path), "title": self.title,
                "task": self.task, "dataset": self.dataset}


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
