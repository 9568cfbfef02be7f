"""The classes of `model.py`: one per network and one per composite block it uses.

A composite (engine/composites) compiles to one GraphModule per copy; model.py
writes one class per composite definition, built wherever it is used:
`self.stage1 = ResidualBlock(16, channels=32)`, or for `repeat` 4
`nn.Sequential(*(TransformerEncoderBlock(num_heads=4, ...) for _ in range(4)))`.

A class's `__init__` takes the composite's exposed parameters (by keyword, with
the definition's defaults) that some layer reads, and before them the
constructor values that differ between its uses (a width the checker inferred
from each use's input) as positional parameters named after the argument
(`in_channels`). Each constructor argument is written, in this order of
preference, as the exposed parameter the author pointed at it (`targets`); as
an exposed parameter an inferred width always equals (`nn.Linear(dim_feedforward,
d_model)`), which is how a person writes it; as a literal when every use has
the same value; else as one of those positional parameters. A network's class
has a single use and no parameters, so everything in it is a literal.

Layers are created in the compiler's order (topological, copy after copy), so
the random draws of initialisation match the compiled module's: train.py
relies on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import fx, nn

from engine.composites import is_composite
from engine.composites.spec import overrides_for
from engine.document import Network
from engine.errors import NetCanvasError
from engine.export.pyconstructors import REQUIRED, Argument, arguments, callee, render
from engine.export.pynames import Names, literal

MERGES = ("Add", "Multiply", "Concat")  # written as operators in forward(), no layer
# Constructor arguments that are widths: an exposed int parameter with the same value
# stands for them even when every use agrees (conv2's input width is `channels`).
WIDTHS = frozenset({"in_channels", "out_channels", "in_features", "out_features", "num_features",
                    "normalized_shape", "embed_dim", "kdim", "vdim", "d_model", "input_size",
                    "hidden_size", "embedding_dim", "dim_feedforward", "channels"})

Call = tuple[str, list[Argument]]  # callee, arguments
ALWAYS = object()  # a default no value equals: the argument is always written, by name


@dataclass
class Instance:
    """One copy of a composite (or a network) as compiled, with its use's parameters."""

    module: fx.GraphModule
    params: dict[str, Any] | None  # the use's resolved params; None for a network


@dataclass
class ClassPlan:
    """What one class of model.py needs: its graph, its uses and how each layer is built."""

    name: str
    network: Network
    instances: list[Instance] = field(default_factory=list)
    exposed: dict[str, str] = field(default_factory=dict)  # exposed name -> Python name
    derived: dict[str, list[Any]] = field(default_factory=dict)  # name -> value per instance
    used: set[str] = field(default_factory=set)  # exposed names some layer reads
    layers: dict[str, str] = field(default_factory=dict)  # node id -> constructor expression

    def signature(self) -> list[tuple[str, Any]]:
        """`__init__`'s parameters after self: (Python name, default or REQUIRED)."""
        defaults = {e.name: e.default for e in self.network.exposed}
        return [(n, REQUIRED) for n in self.derived] + [
            (self.exposed[e], defaults[e]) for e in self.exposed if e in self.used]

    def call_arguments(self, module: nn.Module) -> list[Argument]:
        """The arguments one use passes: derived ones by position, exposed ones by name."""
        index = next(i for i, inst in enumerate(self.instances) if inst.module is module)
        params = self.instances[index].params or {}
        # The first two exposed parameters (those the node's card shows) are always written:
        # `ResidualBlock(channels=16)` says what `ResidualBlock()` hides. The others only
        # where they differ from the definition's default.
        defaults = {e.name: ALWAYS if i < 2 else e.default for i, e in enumerate(self.network.exposed)}
        return [(n, values[index], REQUIRED) for n, values in self.derived.items()] + [
            (self.exposed[e], params[e], defaults[e]) for e in self.exposed if e in self.used]

    def exposed_values(self, name: str) -> list[Any]:
        return [(inst.params or {})[name] for inst in self.instances]


def plan_classes(networks: dict[str, fx.GraphModule], classes: dict[str, str],
                 doc_networks: dict[str, Network], taken: set[str]) -> tuple[list[ClassPlan], dict[str, ClassPlan]]:
    """Plans for every composite used (inner ones first) and for each network."""
    composites: dict[int, ClassPlan] = {}
    order: list[int] = []  # post-order: a definition after those it uses
    taken = set(taken) | set(classes.values())

    def visit(network: Network, instance: Instance) -> None:
        overrides = overrides_for(network, instance.params) if instance.params is not None else {}
        for node_id in network.topological_order():
            node = network.nodes[node_id]
            if not is_composite(node.spec):
                continue
            definition = node.spec.composite.definition
            params = node.spec.resolve({**node.params, **overrides.get(node_id, {})})
            if id(definition) not in composites:
                name = _fresh_class(node.spec.composite.name, taken)
                composites[id(definition)] = ClassPlan(name, definition)
            plan = composites[id(definition)]
            sub = submodule(instance.module, node_id)
            for copy in sub if isinstance(sub, nn.Sequential) else [sub]:
                plan.instances.append(Instance(copy, params))
                visit(definition, plan.instances[-1])
            if id(definition) not in order:
                order.append(id(definition))

    plans = {}
    for network, module in networks.items():
        plans[network] = ClassPlan(classes[network], doc_networks[network], [Instance(module, None)])
        visit(doc_networks[network], plans[network].instances[0])
    ordered = [composites[key] for key in order]
    for plan in [*ordered, *plans.values()]:
        _resolve(plan, composites, taken)
    return ordered, plans


def _fresh_class(name: str, taken: set[str]) -> str:
    fresh, number = name, 1
    while fresh in taken:
        number += 1
        fresh = f"{name}{number}"
    taken.add(fresh)
    return fresh


def submodule(module: fx.GraphModule, node_id: str) -> nn.Module:
    """The compiled submodule of node `node_id` (the compiler may rename reserved ids)."""
    return module.get_submodule(module.meta["submodules"][node_id])


# ---- how each layer is built ------------------------------------------------------------


def _resolve(plan: ClassPlan, composites: dict[int, ClassPlan], classes: set[str]) -> None:
    """Fill `plan.layers` (and its parameters) from every instance's built modules."""
    names = Names(classes)  # __init__ reads the class names: no parameter may hide one
    plan.exposed = {e.name: names.fresh(e.name) for e in plan.network.exposed}
    resolver = _Resolver(plan, names)
    for node_id in plan.network.topological_order():
        node = plan.network.nodes[node_id]
        if node.block in ("Input", "Output", *MERGES):
            continue
        uses = [_construction(inst.module, node_id, node, composites) for inst in plan.instances]
        plan.layers[node_id] = resolver.layer(node_id, uses)


def _construction(module: fx.GraphModule, node_id: str, node, composites) -> tuple[list[Call], int]:
    """How one instance builds node `node_id`: the call of each copy, and the copy count."""
    sub = submodule(module, node_id)
    if not is_composite(node.spec):
        return [(callee(sub), arguments(sub))], 0
    child = composites[id(node.spec.composite.definition)]
    copies = list(sub) if isinstance(sub, nn.Sequential) else [sub]
    calls = [(child.name, child.call_arguments(c)) for c in copies]
    return calls, len(copies) if isinstance(sub, nn.Sequential) else 0


class _Resolver:
    """Writes each constructor argument as a parameter name or a literal (module docstring)."""

    def __init__(self, plan: ClassPlan, names: Names) -> None:
        self.plan = plan
        self.names = names

    def layer(self, node_id: str, uses: list[tuple[list[Call], int]]) -> str:
        """The constructor of a node; a repeated composite's copies in an `nn.Sequential`."""
        counts = [n for _, n in uses]  # 0: not repeated (a bare module, not a Sequential)
        if not any(counts):
            return self.call(node_id, [calls[0] for calls, _ in uses])
        if all(counts) and len(set(counts)) == 1:
            texts = [self.call(node_id, [calls[k] for calls, _ in uses]) for k in range(counts[0])]
            if len(set(texts)) > 1:
                return f"nn.Sequential({', '.join(texts)})"
        elif any(calls.count(calls[0]) != len(calls) for calls, _ in uses):
            raise NetCanvasError(f"cannot write PyTorch source for node '{node_id}' of "
                                 f"{self.plan.network.name}: its copies differ and so does their number")
        text = self.call(node_id, [calls[0] for calls, _ in uses])
        count = self.expression(node_id, "repeat", [n or 1 for n in counts], [REQUIRED] * len(counts))
        sequential = f"nn.Sequential(*({text} for _ in range({count})))"
        return sequential if all(counts) else f"{text} if {count} == 1 else {sequential}"

    def call(self, node_id: str, calls: list[Call]) -> str:
        """One constructor call, its arguments resolved over every instance."""
        parts = []
        for j, (name, _, default) in enumerate(calls[0][1]):
            values = [args[j][1] for _, args in calls]
            defaults = [args[j][2] for _, args in calls]  # per instance: kdim defaults to embed_dim
            expression = self.expression(node_id, name, values, defaults)
            if expression is not None:
                parts.append(render(name, expression, default))
        return f"{calls[0][0]}({', '.join(parts)})"

    def expression(self, node_id: str, arg: str, values: list[Any], defaults: list[Any]) -> str | None:
        """A parameter name, a literal, or None for a default left out."""
        exposed = self.exposed_for(node_id, arg, values, targeted=True)
        if exposed is None and not any(d is REQUIRED or not _same(v, d) for v, d in zip(values, defaults, strict=True)):
            return None
        exposed = exposed or self.exposed_for(node_id, arg, values, targeted=False)
        if exposed is not None:
            self.plan.used.add(exposed)
            return self.plan.exposed[exposed]
        if all(_same(v, values[0]) for v in values):
            return literal(values[0])
        for name, seen in self.plan.derived.items():
            if all(_same(a, b) for a, b in zip(seen, values, strict=True)):
                return name
        name = self.names.fresh(arg if arg not in self.names.taken else f"{node_id}_{arg}")
        self.plan.derived[name] = list(values)
        return name

    def exposed_for(self, node_id: str, arg: str, values: list[Any], targeted: bool) -> str | None:
        """The exposed parameter that stands for this argument in every instance, if one does:
        with `targeted`, one the author pointed at it; else one an inferred width equals."""
        plan = self.plan
        if plan.instances[0].params is None:
            return None
        matches = [e.name for e in plan.network.exposed
                   if all(_same(a, b) for a, b in zip(values, plan.exposed_values(e.name), strict=True))]
        if targeted:
            return next((e for e in matches if f"{node_id}.{arg}" in _targets(plan.network, e)), None)
        widths = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        varies = not all(v == values[0] for v in values)
        if not widths or arg == "repeat" or not (varies or arg in WIDTHS):
            return None
        near = [e for e in matches if any(t.startswith(f"{node_id}.") for t in _targets(plan.network, e))]
        return (near or matches or [None])[0]


def _targets(network: Network, name: str) -> list[str]:
    return next(e.targets for e in network.exposed if e.name == name)


def _same(a: Any, b: Any) -> bool:
    """Equal, counting NaN as equal to NaN (and never True == 1)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return isinstance(a, bool) == isinstance(b, bool) and a == b
