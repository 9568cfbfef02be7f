"""Checking a composite: an inner `NetworkChecker` over its definition per use.

The outer node's input shapes feed the definition's `Input` nodes, its exposed
values override their targets, and the `Output` nodes' shapes are the node's
outputs. With `repeat` N the copies chain: copy i+1 is checked with copy i's
output shape, and the parameter count is the sum over copies (inner total × N
when the shape is preserved). Everything here is torch-free: counts come from
`engine.param_counts` through the inner checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.blocks.base import Params, Shape, Shapes
from engine.composites.cycles import find_cycle
from engine.composites.model import InnerError
from engine.composites.spec import definition_of, overrides_for

if TYPE_CHECKING:
    from engine.composites.holder import BlockHolder
    from engine.composites.spec import Composite
    from engine.shapes import BlockResult, NetworkChecker, NetworkReport


def check_use(info: Composite, params: Params, inputs: Shapes) -> BlockResult:
    """One use of a composite: outputs, parameters, MACs and inner errors."""
    from engine.shapes import BlockResult

    cycle = find_cycle(info.holder, info.name)
    if cycle:
        return BlockResult({}, f"{info.name} uses itself: {' -> '.join(cycle)}", (), 0, 0)
    repeat = params.get("repeat", 1)
    if repeat > 1 and (len(info.inputs) != 1 or len(info.outputs) != 1):
        return BlockResult({}, f"repeat needs one input and one output port; {info.name} has "
                               f"{len(info.inputs)} and {len(info.outputs)}", (), 0, 0)
    overrides = overrides_for(info.definition, params)
    shapes, total, macs, warnings = dict(inputs), 0, 0, []
    copy, previous = 0, None
    while copy < repeat:
        if previous is not None and shapes == previous[0]:
            # the copy maps its shape to itself: the rest are the same check
            total += previous[1] * (repeat - copy)
            macs += previous[2] * (repeat - copy)
            break
        report = inner_report(info.definition, shapes, overrides)
        inner = inner_errors(info.name, report, copy, repeat)
        if inner:
            return BlockResult({}, inner[0].line(), (), 0, 0, tuple(inner))
        outputs = {o: report.nodes[o].inputs["in"] for o in info.outputs}
        warnings += [f"inside {info.name}: {node_id}: {w}"
                     for node_id, r in report.nodes.items() for w in r.warnings]
        previous = (shapes, report.parameters, report.macs)
        total, macs = total + report.parameters, macs + report.macs
        shapes = {info.inputs[0]: outputs[info.outputs[0]]} if repeat > 1 else {}
        copy += 1
    return BlockResult(outputs, None, tuple(dict.fromkeys(warnings)), total, macs)


def inner_report(definition, shapes: Shapes, overrides) -> NetworkReport:
    """The definition's report with these input-port shapes and parameter overrides."""
    from engine.shapes import NetworkChecker

    checker = NetworkChecker(definition, dict, port_shapes=shapes, overrides=overrides)
    try:
        return checker.report()
    finally:
        checker.close()


def inner_errors(name: str, report: NetworkReport, copy: int = 0, repeat: int = 1,
                 ) -> list[InnerError]:
    """The definition's errors as InnerErrors, those of nested composites passed up."""
    prefix = f"in copy {copy + 1} of {repeat}: " if copy else ""
    found = [InnerError(name, "", prefix + p, (name,)) for p in report.problems]
    for node_id, node in report.nodes.items():
        nested = {e.line() for e in node.inner_errors}
        found += [InnerError(e.block, e.node_id, prefix + e.message, (name, *e.path), e.node_block)
                  for e in node.inner_errors]
        found += [InnerError(name, node_id, prefix + e, (name,), node.block)
                  for e in node.errors if e not in nested]
    return found


def use_shapes(holder: BlockHolder, block: str) -> dict[str, Shape] | None:
    """The input-port shapes of the first use of `block` in the document's networks.

    A use inside another composite's definition counts too, found through that
    composite's own first use. None when `block` is not used anywhere checkable.
    """
    use = first_use(holder, block)
    return use[0] if use else None


def first_use(holder: BlockHolder, block: str, seen: frozenset[str] = frozenset(),
              ) -> tuple[dict[str, Shape], dict] | None:
    """(input shapes, resolved params) of the first checkable use of `block`."""
    from engine.shapes import NetworkChecker, dataset_shapes_for

    for network in holder.networks.values():
        for node in network.nodes.values():
            if node.block == block:
                checker = NetworkChecker(network, dataset_shapes_for(holder))
                shapes = dict(checker.report().nodes[node.id].inputs)
                checker.close()
                if shapes:  # else an error upstream: try the next use
                    return shapes, node.resolved_params()
    for name, definition in holder.blocks.items():
        uses = [n for n in definition.nodes.values() if n.block == block]
        outer = first_use(holder, name, seen | {block}) if uses and name not in seen else None
        if outer is not None:
            overrides = overrides_for(definition, outer[1])
            shapes = dict(inner_report(definition, outer[0], overrides).nodes[uses[0].id].inputs)
            if shapes:
                own = {**uses[0].params, **overrides.get(uses[0].id, {})}
                return shapes, uses[0].spec.resolve(own)
    return None


def definition_checker(holder: BlockHolder, block: str) -> NetworkChecker:
    """A checker of `block`'s definition fed with its first use's shapes and values.

    The GUI's definition tab draws edge shapes from it; with no use, `Input`
    nodes report that no shape reaches them (unless they set `shape`) and the
    exposed parameters keep their defaults. Call `close()` when done.
    """
    from engine.shapes import NetworkChecker

    definition = definition_of(holder, block)
    use = first_use(holder, block)
    shapes, params = use if use else ({}, {})
    return NetworkChecker(definition, dict, port_shapes=shapes,
                          overrides=overrides_for(definition, params))
