"""The run store: a folder of runs, one sub-folder per run, each folder its own record.

A run folder holds `run.json` (what was trained, with what, and how it ended),
`metrics.csv`, the `.ncz` bundle, TensorBoard event files and `notes.json` (a
person's note and star). Nothing here imports torch: `netcanvas runs` and the
GUI's Runs panel list a store without paying for it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import NetCanvasError
from engine.fileio import atomic_write_bytes

RUN_FILE = "run.json"
METRICS_FILE = "metrics.csv"
NOTES_FILE = "notes.json"
CRASHED = "crashed/unknown"  # shown for a run left "running" by a process that is gone


class RunStoreError(NetCanvasError):
    """A run or a run store that cannot be read; the message names the path."""


def default_runs_dir(document_path: str | os.PathLike | None) -> Path:
    """`runs/` beside the document; `./runs` for a preset or a document with no folder.

    Presets live inside the installation, where a run must not be written.
    """
    if document_path is None:
        return Path.cwd() / "runs"
    from engine.presets import PRESETS_DIR

    path = Path(document_path).resolve()
    if path.parent == Path(PRESETS_DIR).resolve():
        return Path.cwd() / "runs"
    return path.parent / "runs"


def short_name(text: str) -> str:
    """A file-name-safe slug of at most 24 characters (`MLP on XOR` -> `mlp-on-xor`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:24].strip("-") or "run"


def new_run_folder(root: Path, name: str, now: float | None = None) -> Path:
    """Create a new, never-used run folder: `YYYYMMDD-HHMMSS-<name>-<n>`.

    `mkdir` without `exist_ok` is the lock: two processes starting in the same
    second get different counters, and an existing run is never overwritten.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    try:
        root.mkdir(parents=True, exist_ok=True)
        for counter in range(1, 100_000):
            folder = root / f"{stamp}-{short_name(name)}-{counter}"
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder
    except OSError as exc:
        raise RunStoreError(f"cannot make a run folder in {root}: {exc.strerror or exc} "
                            "(choose another store with --runs DIR)") from None
    raise RunStoreError(f"{root}: no free run name for {name} at {stamp}")


def write_json(path: Path, data: Any) -> None:
    """Atomically, so a reader (the Runs panel, `netcanvas runs`) never sees half a file."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, allow_nan=False, default=str) + "\n").encode())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: assume alive
    return True


@dataclass
class RunInfo:
    """One run folder as read from disk."""

    path: Path
    record: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        """The recorded status; a "running" run whose process is gone reads as crashed."""
        status = self.record.get("status", "unknown")
        if status != "running":
            return status
        process = self.record.get("process", {})
        if process.get("host") == socket.gethostname() and not pid_alive(int(process.get("pid", 0))):
            return CRASHED
        return status

    @property
    def document_name(self) -> str:
        return str(self.record.get("document_name", ""))

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record.get("metrics") or {}

    @property
    def settings(self) -> dict[str, Any]:
        return self.record.get("settings") or {}

    @property
    def bundle(self) -> Path | None:
        name = self.record.get("bundle")
        return self.path / name if name and (self.path / name).is_file() else None

    @property
    def duration(self) -> float | None:
        began, ended = self.record.get("started_at"), self.record.get("ended_at")
        return float(ended) - float(began) if began is not None and ended is not None else None

    def curves(self) -> dict[str, list[tuple[float, float]]]:
        """Per metric, its (x, value) points from metrics.csv (x: step, or epoch for epoch rows)."""
        from engine.runs.csvlog import read_curves

        return read_curves(self.path / METRICS_FILE)

    def set_notes(self, note: str | None = None, star: bool | None = None) -> None:
        if note is not None:
            self.notes["note"] = note
        if star is not None:
            self.notes["star"] = bool(star)
        write_json(self.path / NOTES_FILE, self.notes)


def read_run(folder: str | os.PathLike) -> RunInfo:
    folder = Path(folder)
    try:
        record = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunStoreError(f"{folder}: not a run (no {RUN_FILE})") from None
    except (OSError, ValueError) as exc:
        raise RunStoreError(f"{folder / RUN_FILE}: unreadable ({exc})") from None
    if not isinstance(record, dict):
        raise RunStoreError(f"{folder / RUN_FILE}: not a JSON object")
    notes: dict[str, Any] = {}
    try:
        loaded = json.loads((folder / NOTES_FILE).read_text(encoding="utf-8"))
        notes = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass
    return RunInfo(folder, record, notes)


RunCache = dict[Path, tuple[tuple[int, ...], RunInfo]]  # folder -> (its files' stamp, the run read)


def list_runs(root: str | os.PathLike, cache: RunCache | None = None) -> list[RunInfo]:
    """Every readable run under `root`, oldest first; unreadable folders are skipped.

    With a `cache` (kept by the caller between listings), a run whose files did not
    change since it was read is not read again: the window lists a store of hundreds
    of runs after every run, and only the new one needs reading. Run files are
    replaced atomically, so a changed file has a new inode as well as a new mtime.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    runs, seen = [], set()
    for folder in sorted(root.iterdir()):
        stamp = _stamp(folder)
        if stamp is None:
            continue
        seen.add(folder)
        known = cache.get(folder) if cache is not None else None
        if known is not None and known[0] == stamp:
            runs.append(known[1])
            continue
        try:
            run = read_run(folder)
        except RunStoreError:
            continue
        runs.append(run)
        if cache is not None:
            cache[folder] = (stamp, run)
    if cache is not None:
        for gone in cache.keys() - seen:
            del cache[gone]
    runs.sort(key=lambda run: (run.record.get("started_at") or 0, run.id))
    return runs


def _stamp(folder: Path) -> tuple[int, ...] | None:
    """What changes whenever a run's files are rewritten; None where there is no run."""
    try:
        record = (folder / RUN_FILE).stat()
    except OSError:
        return None
    try:
        notes = (folder / NOTES_FILE).stat()
        noted: tuple[int, ...] = (notes.st_ino, notes.st_mtime_ns, notes.st_size)
    except OSError:
        noted = ()
    return (record.st_ino, record.st_mtime_ns, record.st_size, *noted)


def find_run(root: str | os.PathLike, name: str) -> RunInfo:
    """A run by folder path, full id, or an unambiguous part of its id."""
    if (Path(name) / RUN_FILE).is_file():
        return read_run(name)
    runs = list_runs(root)
    exact = [run for run in runs if run.id == name]
    matches = exact or [run for run in runs if name in run.id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunStoreError(f"no run '{name}' in {root}")
    raise RunStoreError(f"'{name}' matches {len(matches)} runs in {root}: "
                        + ", ".join(run.id for run in matches[:5]))
