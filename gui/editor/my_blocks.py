"""What the palette's "My blocks" lists: the document's composites, the built-in ones
and the user's library, each with where it comes from.

A library block is not a `BlockSpec` until a document holds its definition, so
the palette shows an `Entry` made from the definition itself (its doc, ports and
exposed parameters); dropping it copies the definition in (`session.add_node`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from engine.composites import definition_of
from engine.document import Document, Network

CATEGORY = "My blocks"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One composite as the palette shows it (duck-types `BlockSpec` for searching)."""

    name: str
    doc: str
    source: str  # "this document", "built in" or "your library"
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[str, ...]
    category: str = CATEGORY

    @property
    def tooltip(self) -> str:
        ins = ", ".join(self.inputs) or "—"
        outs = ", ".join(self.outputs) or "—"
        params = ", ".join(self.params)
        return (f"<b>{escape(self.name)}</b> ({CATEGORY} · {self.source})<br>"
                f"{escape(self.doc) or '<i>no description</i>'}<br>"
                f"<i>in: {escape(ins)} · out: {escape(outs)}</i><br>"
                f"parameters: {escape(params)}<br>"
                "<i>Drag onto the canvas; double-click its card to open the definition.</i>")


def entry(name: str, definition: Network, source: str) -> Entry:
    """The palette's view of a definition: its ports are its Input and Output nodes."""
    ins = tuple(n.id for n in definition.nodes.values() if n.block == "Input")
    outs = tuple(n.id for n in definition.nodes.values() if n.block == "Output")
    exposed = tuple(p.name for p in getattr(definition, "exposed", ())) + ("repeat",)
    return Entry(name, getattr(definition, "doc", "") or "", source, ins, outs, exposed)


def composite_entries(doc: Document | None) -> dict[str, Entry]:
    """Every composite a person can drop into `doc`, by name (the document's own win)."""
    doc = doc if doc is not None else Document()
    found: dict[str, Entry] = {}
    for name in doc.block_names():
        source = "this document" if name in doc.blocks else "built in"
        found[name] = entry(name, definition_of(doc, name), source)
    try:
        from engine.composites import library_blocks

        library = library_blocks()
    except OSError as exc:  # an unreadable library folder must not empty the palette
        log.warning("cannot read the block library: %s", exc)
        library = {}
    for name, definition in library.items():
        found.setdefault(name, entry(name, definition, "your library"))
    return dict(sorted(found.items()))
