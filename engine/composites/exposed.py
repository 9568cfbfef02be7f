"""Checks on a composite's exposed parameters: names, kinds, defaults and targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.blocks.base import PARAM_KINDS
from engine.document import IDENTIFIER

if TYPE_CHECKING:
    from engine.composites.model import ExposedParam
    from engine.document import Network


def exposed_problems(definition: Network, exposed: list[ExposedParam]) -> list[tuple[str, str]]:
    """Each problem as (`params[i]...`, reason), so a reader can prefix its JSON path."""
    problems, seen = [], set()
    for i, item in enumerate(exposed):
        where = f"params[{i}]"
        if not IDENTIFIER.fullmatch(item.name) or item.name == "repeat":
            problems.append((f"{where}.name", f"'{item.name}' must be an identifier other than repeat"))
        elif item.name in seen:
            problems.append((f"{where}.name", f"'{item.name}' is exposed twice"))
        seen.add(item.name)
        if item.kind not in PARAM_KINDS:
            problems.append((f"{where}.kind",
                             f"expected one of {', '.join(PARAM_KINDS)}, got {item.kind!r}"))
            continue
        problem = item.param().type_error(item.default) or item.param().range_error(item.default)
        if problem:
            problems.append((f"{where}.default", problem))
        for j, target in enumerate(item.targets):
            problem = target_problem(definition, target)
            if problem:
                problems.append((f"{where}.targets[{j}]", problem))
    return problems


def target_problem(definition: Network, target: object) -> str | None:
    """Why `target` does not name an inner node's parameter, or None."""
    if not isinstance(target, str) or "." not in target:
        return f'expected "inner_node.param", got {target!r}'
    node_id, _, name = target.partition(".")
    node = definition.nodes.get(node_id)
    if node is None:
        return f"no node '{node_id}' in {definition.name}"
    try:
        spec = node.spec
    except KeyError as exc:
        return str(exc.args[0])
    if spec.param(name) is None:
        return f"{node_id} ({node.block}) has no parameter '{name}'"
    return None
