"""The user's block library: one JSON file per composite, shared by every document.

A library file is a version-2 document (no networks) whose `blocks` hold the
composite and the composites it uses, so each file stands alone. The folder is
`platformdirs.user_data_dir("netcanvas")/blocks`, or `NETCANVAS_LIBRARY_DIR`
(tests, portable installs). Dropping a library or built-in block on the canvas
copies its definition into the document (`import_block`), so a file never
depends on one person's library.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EditError, NetCanvasError

if TYPE_CHECKING:
    from engine.composites.holder import BlockHolder
    from engine.document import Document, Network

LOG = logging.getLogger(__name__)
ENV = "NETCANVAS_LIBRARY_DIR"


def library_dir() -> Path:
    """Where library blocks live (not created until a block is saved)."""
    override = os.environ.get(ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("netcanvas")) / "blocks"


def used_blocks(holder: BlockHolder, name: str) -> list[str]:
    """`name` and every composite its definition uses, directly or not (`name` first)."""
    found = [name]
    for current in found:
        definition = holder.definition(current)
        for node in definition.nodes.values() if definition is not None else ():
            if node.block not in found and holder.definition(node.block) is not None:
                found.append(node.block)
    return found


def save_to_library(doc: Document, name: str) -> Path:
    """Write composite `name` (and what it uses) to `<library>/<name>.json`, atomically."""
    from engine.document import Document, copy_network
    from engine.readwrite import save_document

    if doc.definition(name) is None:
        raise EditError(f"no block '{name}' to save")
    record = Document(name, doc.definition(name).doc)
    names = used_blocks(doc, name)
    for block in names:
        record.add_block(block)
    for block in names:
        copy_network(doc.definition(block), record.blocks[block])
    folder = library_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    save_document(record, path)
    return path


def library_documents() -> dict[str, Document]:
    """Block name -> the library document defining it; a bad file is skipped, logged."""
    from engine.readwrite import load_json_document

    folder = library_dir()
    found: dict[str, Document] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            doc = load_json_document(path)
        except NetCanvasError as exc:
            LOG.warning("skipping library block %s: %s", path, exc)
            continue
        if path.stem not in doc.blocks:
            LOG.warning("skipping library block %s: it does not define '%s'", path, path.stem)
            continue
        found[path.stem] = doc
    return found


def library_blocks() -> dict[str, Network]:
    """Name -> definition of every block in the user's library."""
    return {name: doc.blocks[name] for name, doc in library_documents().items()}


def import_block(doc: Document, name: str) -> list[str]:
    """Copy composite `name` (and what it uses) from the library or the built-ins into
    `doc.blocks`; returns the names added. Names the document defines already are kept."""
    from engine.composites.builtin import builtin_blocks, builtin_document
    from engine.document import copy_network

    if name in doc.blocks:
        return []
    source = library_documents().get(name)
    if source is None and name in builtin_blocks():
        source = builtin_document(name)
    if source is None:
        raise EditError(f"no block '{name}' in the library or the built-in blocks")
    added = [b for b in used_blocks(source, name) if b not in doc.blocks]
    for block in added:  # names first: a definition may use one added after it
        doc.add_block(block)
    for block in added:
        copy_network(source.definition(block), doc.blocks[block])
    return added
