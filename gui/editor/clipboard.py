"""Copy and paste of sub-graphs as JSON under a custom mime type.

The payload travels on the system clipboard, so it crosses tabs, windows and
documents (and even a second NetCanvas process). Only edges whose two ends are
both copied are kept; pasted nodes get ids that are free in the target network.
Nodes of composites the document defines carry those definitions (and the ones
they use) in the file format's `blocks` record, so a paste into another document
brings them along; a name the target already defines differently is renamed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from engine.blocks import CATALOGUE
from engine.document import IDENTIFIER, Document, Network
from engine.readwrite import document_to_dict, parse_document

MIME_TYPE = "application/x-netcanvas-nodes+json"
CLIP_FORMAT = "netcanvas-clip"


def snapshot(net: Network, node_ids: Iterable[str], document: Document | None = None,
             ) -> dict[str, Any]:
    """The selected nodes and their internal wiring as plain JSON records, with the
    definitions of the `document`'s own composites they use."""
    chosen = [n for n in net.nodes if n in set(node_ids)]
    nodes = [{"id": n.id, "block": n.block, "params": n.params, "pos": list(n.pos),
              "extra": n.extra} for n in (net.nodes[i] for i in chosen)]
    keep = set(chosen)
    edges = [[e.source, e.target] for e in net.edges if e.src in keep and e.dst in keep]
    payload = {"format": CLIP_FORMAT, "version": 1, "nodes": nodes, "edges": edges}
    used = used_blocks(document, {n["block"] for n in nodes}) if document else []
    if used:
        defined = document_to_dict(document)["blocks"]
        payload["blocks"] = {name: defined[name] for name in used}
    return json.loads(json.dumps(payload))


def used_blocks(document: Document, blocks: Iterable[str]) -> list[str]:
    """The document's own composites among `blocks` and every one they use, inside out."""
    found: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name not in document.blocks or name in found or name in path:
            return
        for node in document.blocks[name].nodes.values():
            visit(node.block, (*path, name))
        found.append(name)

    for block in sorted(blocks):
        visit(block, ())
    return found


def definitions_to_add(document: Document, payload: dict[str, Any],
                       ) -> tuple[dict[str, Any], list[tuple[str, Network]]]:
    """The definitions a paste must add to `document`, parsed, and the payload with its
    nodes renamed where a definition was: one the document already has, identical, is
    reused; one it defines differently is added under a free name (`ResidualBlock2`).
    The definitions come inside out (a used one before its user), as `snapshot` wrote
    them; NetCanvasError when the payload's `blocks` are not a valid record."""
    blocks = payload.get("blocks")
    if not isinstance(blocks, dict) or not blocks:
        return payload, []
    own = document_to_dict(document).get("blocks", {}) if document.blocks else {}
    renames: dict[str, str] = {}
    for name, record in blocks.items():
        if name in own and own[name] != record:
            renames[name] = _free_block_name(document, name, set(blocks))
    wanted = {renames.get(n, n): r for n, r in blocks.items() if renames.get(n, n) not in own}
    payload = _renamed(payload, renames)
    wanted = {n: _renamed(r, renames) for n, r in wanted.items()}
    if not wanted:
        return payload, []
    parsed = parse_document(json.dumps({"format": "netcanvas", "version": 2, "name": "clipboard",
                                        "blocks": wanted, "networks": {}}))
    taken = {}
    for name in reversed(list(wanted)):  # users first: a definition in use cannot go
        taken[name] = parsed.remove_block(name)
    return payload, [(name, taken[name]) for name in wanted]


def _free_block_name(document: Document, name: str, taken: set[str]) -> str:
    n = 2
    while (f"{name}{n}" in document.blocks or f"{name}{n}" in taken
           or f"{name}{n}" in CATALOGUE):
        n += 1
    return f"{name}{n}"


def _renamed(record: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """`record` (a payload or a definition) with its nodes' blocks renamed."""
    if not renames:
        return record
    record = dict(record)
    record["nodes"] = [dict(n, block=renames.get(n.get("block"), n.get("block")))
                       if isinstance(n, dict) else n for n in record.get("nodes", [])]
    return record


def to_mime(payload: dict[str, Any]) -> QMimeData:
    mime = QMimeData()
    text = json.dumps(payload, indent=1)
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    mime.setText(text)
    return mime


def copy_to_clipboard(payload: dict[str, Any]) -> None:
    QGuiApplication.clipboard().setMimeData(to_mime(payload))


def from_mime(mime: QMimeData | None) -> dict[str, Any] | None:
    """The payload on `mime`, or None when it holds nothing we can paste."""
    if mime is None:
        return None
    if mime.hasFormat(MIME_TYPE):
        raw = bytes(mime.data(MIME_TYPE).data()).decode("utf-8", "replace")
    elif mime.hasText():
        raw = mime.text()
    else:
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("format") != CLIP_FORMAT:
        return None
    return payload


def clipboard_payload() -> dict[str, Any] | None:
    return from_mime(QGuiApplication.clipboard().mimeData())


def prepare_paste(net: Network, payload: dict[str, Any], offset: tuple[float, float],
                  known: Callable[[str], bool] = CATALOGUE.__contains__,
                  ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Records with fresh ids and shifted positions, and the edges renamed to match.

    An id is kept when it is free in `net` (pasting into another document keeps
    names readable); otherwise the network's `unique_id` picks a new one. Nodes
    of blocks that are not `known` (the target cannot resolve them) are skipped.
    """
    taken = set(net.nodes)
    renamed: dict[str, str] = {}
    nodes = []
    for rec in payload.get("nodes", []):
        if not isinstance(rec, dict) or not isinstance(rec.get("block"), str) \
                or not known(rec["block"]):
            continue
        new_id = rec.get("id") if isinstance(rec.get("id"), str) else None
        if not new_id or new_id in taken or not IDENTIFIER.fullmatch(new_id):
            new_id = _fresh_id(net, rec["block"], taken)
        taken.add(new_id)
        renamed[str(rec.get("id"))] = new_id
        try:
            x, y = (float(v) for v in rec.get("pos", (0, 0)))
        except (TypeError, ValueError):
            x, y = 0.0, 0.0
        params, extra = rec.get("params"), rec.get("extra")
        nodes.append({"id": new_id, "block": rec["block"],
                      "params": dict(params) if isinstance(params, dict) else {},
                      "pos": (x + offset[0], y + offset[1]),
                      "extra": dict(extra) if isinstance(extra, dict) else {}})
    edges = []
    for pair in payload.get("edges", []):
        if not (isinstance(pair, list | tuple) and len(pair) == 2
                and all(isinstance(a, str) and "." in a for a in pair)):
            continue  # a clipboard written by something else: skip what is not an edge
        (src, sp), (dst, dp) = pair[0].split(".", 1), pair[1].split(".", 1)
        if src in renamed and dst in renamed:
            edges.append((f"{renamed[src]}.{sp}", f"{renamed[dst]}.{dp}"))
    return nodes, edges


def _fresh_id(net: Network, block: str, taken: set[str]) -> str:
    """`unique_id` also avoiding ids chosen earlier in the same paste."""
    base = net.unique_id(block).rsplit("_", 1)[0]
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def bounds(payload: dict[str, Any]) -> tuple[float, float]:
    """Top-left of the copied nodes, to paste them relative to the cursor."""
    points = []
    for rec in payload.get("nodes", []):
        try:
            x, y = (float(v) for v in rec.get("pos", (0, 0)))
        except (TypeError, ValueError, AttributeError):
            continue
        points.append((x, y))
    points = points or [(0.0, 0.0)]
    return (min(p[0] for p in points), min(p[1] for p in points))
