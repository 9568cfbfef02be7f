"""A composite use -> a nested module: an fx GraphModule per copy, `nn.Sequential` for N.

The definition compiles with the compiler's own graph builder, so a composite's
`.code` reads like any network's and its submodules are named by the inner node
ids: the outer state-dict keys read `encoder.0.attention.in_proj_weight`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx, nn

from engine.blocks.base import Params, Shapes
from engine.composites.checking import inner_errors, inner_report
from engine.composites.spec import overrides_for
from engine.errors import GraphError

if TYPE_CHECKING:
    from engine.composites.spec import Composite


def build_use(info: Composite, params: Params, inputs: Shapes) -> nn.Module:
    """The module of one use; with `repeat` N, N chained copies with their own weights."""
    repeat = params.get("repeat", 1)
    copies, shapes = [], dict(inputs)
    for _ in range(repeat):
        module = build_copy(info, params, shapes)
        copies.append(module)
        report = module.meta["report"]
        shapes = {info.inputs[0]: report.nodes[info.outputs[0]].inputs["in"]} if repeat > 1 else {}
    return copies[0] if repeat == 1 else nn.Sequential(*copies)


def build_copy(info: Composite, params: Params, inputs: Shapes) -> fx.GraphModule:
    """One copy of the definition as a GraphModule whose class is the composite's name."""
    from engine.compiler import build_graph_module

    overrides = overrides_for(info.definition, params)
    report = inner_report(info.definition, inputs, overrides)
    problems = inner_errors(info.name, report)
    if problems:
        raise GraphError(f"{info.name} cannot be built:\n"
                         + "\n".join(f"  {e.line()}" for e in problems))
    return build_graph_module(info.definition, report, info.name, overrides, ports=info.inputs)
