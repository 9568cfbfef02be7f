"""A composite's `BlockSpec`: ports from its definition, params = exposed + `repeat`.

Everything that reads a catalogue block (the palette, the inspector, validation,
the file format, the compiler) reads a composite the same way. What differs is
carried in `BlockSpec.composite`, a `Composite`: checking runs a `NetworkChecker`
over the definition (engine/composites/checking.py), building compiles it to a
nested module (engine/composites/build.py, where torch is imported).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.blocks.base import BlockSpec, Params, Port, Shape, Shapes
from engine.composites.model import REPEAT
from engine.errors import ShapeError

if TYPE_CHECKING:
    from torch import nn

    from engine.composites.holder import BlockHolder
    from engine.document import Network

CATEGORY = "My blocks"
_SERIAL = itertools.count(1)  # a fresh number per spec: the shape cache keys on it


@dataclass(frozen=True, eq=False)
class Composite:
    """What a composite spec knows beyond a catalogue block's declaration."""

    name: str
    definition: Network
    holder: BlockHolder
    serial: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def check(self, params: Params, inputs: Shapes):
        """Shapes, counts and inner errors (engine.shapes.BlockResult) of one use."""
        from engine.composites.checking import check_use

        return check_use(self, params, inputs)

    def infer(self, params: Params, inputs: Shapes) -> dict[str, Shape]:
        result = self.check(params, inputs)
        if result.error:
            raise ShapeError(result.error)
        return dict(result.outputs)

    def build(self, params: Params, inputs: Shapes) -> nn.Module:
        from engine.composites.build import build_use

        return build_use(self, params, inputs)


def is_composite(spec: BlockSpec) -> bool:
    """Whether `spec` is a composite block (a network used as a block)."""
    return spec.composite is not None


def composite_spec(name: str, definition: Network, holder: BlockHolder) -> BlockSpec:
    """The declaration of composite `name` as `holder` (a document) resolves it."""
    ins = tuple(n.id for n in definition.nodes.values() if n.block == "Input")
    outs = tuple(n.id for n in definition.nodes.values() if n.block == "Output")
    info = Composite(name, definition, holder, next(_SERIAL), ins, outs)
    params = tuple(e.param() for e in definition.exposed) + (REPEAT,)
    return BlockSpec(
        name=name, category=CATEGORY,
        doc=definition.doc or f"A composite block made of {len(definition.nodes)} blocks.",
        inputs=tuple(Port(i) for i in ins), outputs=tuple(Port(o) for o in outs),
        params=params, infer=info.infer, build=info.build,
        output_paths={o: (i,) for i, o in enumerate(outs)} if len(outs) > 1 else {},
        key_params=tuple(p.name for p in params[:2]) + ("repeat",) * (len(params) > 2),
        composite=info,
    )


def definition_of(holder: BlockHolder, name: str) -> Network:
    """The definition of composite `name` (the document's own, else built-in)."""
    definition = holder.definition(name)
    if definition is None:
        raise KeyError(f"no composite block '{name}'")
    return definition


def overrides_for(definition: Network, params: Params) -> dict[str, dict[str, Any]]:
    """Inner node id -> {param: value} that the use's exposed values impose."""
    overrides: dict[str, dict[str, Any]] = {}
    for exposed in definition.exposed:
        value = params.get(exposed.name, exposed.default)
        for target in exposed.targets:
            node_id, _, param = target.partition(".")
            overrides.setdefault(node_id, {})[param] = value
    return overrides
