"""Atomic saves (engine.fileio), and the autosave/recovery files that survive a crash.

A recovery file is the document's JSON record wrapped with where it came
from and when; it is written every `AUTOSAVE_MS` while there are unsaved
changes and removed on a clean save or close. A file whose writer process
is gone is what the next start offers to recover.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.document import Document
from engine.fileio import atomic_write_bytes
from engine.readwrite import LONE_SURROGATE, document_bytes, document_to_dict, parse_document
from gui.settings import recovery_dir

AUTOSAVE_MS = 30_000
_serial = itertools.count(1)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """The engine's atomic write: keeps the file's mode, writes through links, no stale temp."""
    atomic_write_bytes(path, data)


def save_document_file(doc: Document, path: str | os.PathLike) -> None:
    write_atomic(path, document_bytes(doc))


@dataclass
class RecoveryFile:
    path: Path
    pid: int
    name: str
    original: str | None
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        source = self.original or "a document that was never saved"
        return f"“{self.name}” ({source}), autosaved {when}."

    def load(self) -> Document:
        payload = json.loads(self.path.read_text(encoding="utf-8"))
        return parse_document(json.dumps(payload["document"]), str(self.path))


class Autosaver:
    """The recovery file of one window."""

    def __init__(self) -> None:
        self.path = recovery_dir() / f"autosave-{os.getpid()}-{next(_serial)}.json"

    def write(self, doc: Document, original: str | None) -> Path:
        payload = {"netcanvas_recovery": 1, "pid": os.getpid(), "original_path": original,
                   "saved_at": time.time(), "name": doc.name,
                   "document": document_to_dict(doc)}
        text = LONE_SURROGATE.sub("\ufffd", json.dumps(payload, ensure_ascii=False))
        write_atomic(self.path, text.encode("utf-8"))
        return self.path

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def find_recoverable(directory: Path | None = None) -> list[RecoveryFile]:
    """Recovery files left by processes that are no longer running, newest first."""
    directory = directory or recovery_dir()
    found = []
    for path in sorted(directory.glob("autosave-*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            pid = int(payload.get("pid", 0))
            record = RecoveryFile(path, pid, str(payload.get("name", "Untitled")),
                                  payload.get("original_path"), float(payload.get("saved_at", 0)))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        if not _alive(pid):
            found.append(record)
    return sorted(found, key=lambda r: r.saved_at, reverse=True)
