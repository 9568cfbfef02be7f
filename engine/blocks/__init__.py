"""The block catalogue: every family module contributes a `BLOCKS` tuple."""

from __future__ import annotations

from engine.blocks import activation, attention, conv, core, graph, merge, recurrent
from engine.blocks.base import BlockSpec, Param, Port, Shape, fmt_shape

FAMILIES = (core, activation, conv, recurrent, attention, graph, merge)

CATALOGUE: dict[str, BlockSpec] = {
    spec.name: spec for family in FAMILIES for spec in family.BLOCKS
}

CATEGORY_ORDER = ("Input/Output", "Core", "Activation", "Convolution", "Normalization",
                  "Recurrent", "Sequence", "Attention", "Graph", "Merge")


def get_block(name: str) -> BlockSpec:
    """The declaration of block `name`; KeyError names the known blocks."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"unknown block '{name}'") from None


def by_category() -> dict[str, list[BlockSpec]]:
    """Blocks grouped for the palette, categories in teaching order."""
    groups: dict[str, list[BlockSpec]] = {c: [] for c in CATEGORY_ORDER}
    for spec in CATALOGUE.values():
        groups.setdefault(spec.category, []).append(spec)
    return {c: blocks for c, blocks in groups.items() if blocks}


__all__ = ["CATALOGUE", "BlockSpec", "Param", "Port", "Shape", "by_category", "fmt_shape", "get_block"]
