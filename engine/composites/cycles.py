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


MAX_NESTING = 32  # composites inside composites: deeper files are refused when read


def nesting_depths(holder: BlockHolder) -> dict[str, int]:
    """Own composite name -> how many composites deep its definition goes (1: none inside).

    Kahn's order over "uses" links, so a long hostile chain costs no recursion;
    names on a cycle get no depth (the cycle is reported on its own).
    """
    uses = {name: {n.block for n in d.nodes.values() if n.block in holder.blocks}
            for name, d in holder.blocks.items()}
    users: dict[str, list[str]] = {name: [] for name in uses}
    for name, used in uses.items():
        for block in used:
            users[block].append(name)
    pending = {name: len(used) for name, used in uses.items()}
    ready = [name for name, count in pending.items() if count == 0]
    depth: dict[str, int] = {}
    while ready:
        name = ready.pop()
        depth[name] = 1 + max((depth[b] for b in uses[name]), default=0)
        for user in users[name]:
            pending[user] -= 1
            if pending[user] == 0:
                ready.append(user)
    return depth
