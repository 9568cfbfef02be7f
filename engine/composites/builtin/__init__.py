"""The built-in composites, shipped as JSON beside this module (package data).

Each `<Name>.json` is a version-2 document whose `blocks` define `Name` (and any
composite it uses). They load on first use and are shared, read-only: a document
that wants to edit one copies it into its own `blocks` (`import_block`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.blocks.base import BlockSpec
    from engine.document import Document, Network

BUILTIN_DIR = Path(__file__).resolve().parent


@cache
def _documents() -> dict[str, Document]:
    """Block name -> the loaded document that defines it."""
    from engine.readwrite import load_json_document

    found: dict[str, Document] = {}
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        doc = load_json_document(path)
        doc.path = None
        found[path.stem] = doc
    return found


def builtin_blocks() -> dict[str, Network]:
    """Name -> definition of every built-in composite (do not edit: copy first)."""
    return {name: doc.blocks[name] for name, doc in _documents().items()}


def builtin_document(name: str) -> Document:
    """The document that defines built-in `name` with what it uses; KeyError if none."""
    return _documents()[name]


def builtin_spec(name: str) -> BlockSpec:
    """The declaration of built-in composite `name`; KeyError naming an unknown block."""
    doc = _documents().get(name)
    if doc is None:
        raise KeyError(f"unknown block '{name}'")
    return doc.resolve_block(name)
