"""Composites that use themselves, directly or through others: found by walking uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.composites.holder import BlockHolder


def path_between(holder: BlockHolder, start: str, goal: str) -> list[str]:
    """`[start, ..., goal]` following "definition uses block" links, or [] when none."""
    stack: list[list[str]] = [[start]]
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        name = path[-1]
        if name == goal:
            return path
        if name in seen:
            continue
        seen.add(name)
        definition = holder.definition(name)
        if definition is None:
            continue
        for block in dict.fromkeys(n.block for n in definition.nodes.values()):
            stack.append([*path, block])
    return []


def find_cycle(holder: BlockHolder, name: str) -> list[str]:
    """A chain `[name, ..., name]` when composite `name` uses itself, else []."""
    definition = holder.definition(name)
    if definition is None:
        return []
    for block in dict.fromkeys(n.block for n in definition.nodes.values()):
        path = path_between(holder, block, name)
        if path:
            return [name, *path]
    return []
