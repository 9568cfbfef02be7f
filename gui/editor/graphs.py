"""Which graph a canvas edits: a network of the document, or a composite's definition.

The editor names every graph it shows by one string key. A network keeps its
own name (`"main"`); a definition is `"block:ResidualBlock"`. The colon cannot
appear in a network name (an identifier), so the two never collide, and every
command, scene and panel that took a network name works on a definition unchanged:
they look the graph up through `graph_of` each time and never keep the object.
"""

from __future__ import annotations

from engine.document import Document, Network
from engine.errors import EditError

BLOCK_PREFIX = "block:"


def block_key(block: str) -> str:
    """The key of `block`'s definition tab."""
    return f"{BLOCK_PREFIX}{block}"


def block_of(key: str | None) -> str | None:
    """The composite whose definition `key` names, or None for a network."""
    if key and key.startswith(BLOCK_PREFIX):
        return key[len(BLOCK_PREFIX):]
    return None


def graph_of(document: Document, key: str) -> Network:
    """The network or definition named by `key` (EditError when it is gone)."""
    block = block_of(key)
    if block is None:
        return document.network(key)
    try:
        return document.blocks[block]
    except KeyError:
        raise EditError(f"this document defines no block '{block}'") from None


def has_graph(document: Document, key: str) -> bool:
    block = block_of(key)
    return key in document.networks if block is None else block in document.blocks


def graph_title(key: str) -> str:
    """The tab title: the network's name, or "ResidualBlock (block)"."""
    block = block_of(key)
    return key if block is None else f"{block} (block)"
