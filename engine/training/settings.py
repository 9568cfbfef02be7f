"""Reading a trainer's own section of `training` (e.g. `training.dqn`) with clear errors.

A typo in a document must give a message that names the key, not a TypeError
deep inside a loop; so every trainer-specific knob goes through `setting`.
Defaults, kinds and limits come from the declaration in `engine/training/schema`
when the caller leaves them out, so they live in one place.
"""

from __future__ import annotations

from typing import Any

from engine.errors import NetCanvasError
from engine.options import checked
from engine.training.schema import lookup

_OMITTED: Any = object()
_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "choice": str}


def section(training: dict[str, Any], name: str) -> dict[str, Any]:
    """`training[name]` as a dict (missing means all defaults)."""
    value = training.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NetCanvasError(f"training.{name}: expected an object of settings, got {value!r}")
    return value


def setting(training: dict[str, Any], name: str, key: str, default: Any = _OMITTED,
            kind: type | None = None, *, minimum: float | None = _OMITTED,
            maximum: float | None = _OMITTED, choices: tuple[Any, ...] | None = _OMITTED) -> Any:
    """`training[name][key]`, type- and range-checked; JSON's ints pass where floats are asked.

    Whatever the caller leaves out (default, kind, limits, choices) is the schema's; a
    declared default of None (worked out at run time) must then be given by the caller.
    """
    declared = lookup(name, key)
    task = training.get("task") if isinstance(training.get("task"), str) else None
    if default is _OMITTED:
        default = declared.default_for(task)
    if kind is None:
        kind = _TYPES[declared.kind]
    if minimum is _OMITTED:
        minimum = declared.low
    if maximum is _OMITTED:
        maximum = declared.high
    if choices is _OMITTED:
        choices = declared.choices or None
    return checked(section(training, name).get(key, default), f"training.{name}.{key}", default,
                   kind, minimum=minimum, maximum=maximum, choices=choices)


def value(training: dict[str, Any], key: str) -> Any:
    """A top-level `training[key]` (epochs, batch_size, seed, ...), checked, with the
    schema's default for the document's task when absent."""
    declared = lookup("", key)
    task = training.get("task") if isinstance(training.get("task"), str) else None
    default = declared.default_for(task)
    kind = _TYPES.get(declared.kind)
    if kind is None:  # datasets, devices, objects: the reader that uses them checks them
        return training.get(key, default)
    return checked(training.get(key, default), f"training.{key}", default, kind,
                   minimum=declared.low, maximum=declared.high)


def chain_blocks(doc, network: str) -> list[tuple[str, str]]:
    """(node id, block) along a single Input -> ... -> Output chain, or [] if it branches.

    The classic algorithms (perceptron, tabular Q-learning) only make sense on one exact
    shape of network; they check it with this and name what they expected.
    """
    net = doc.network(network)
    inputs = [n for n in net.nodes.values() if n.block == "Input"]
    if len(inputs) != 1 or len(net.edges) != len(net.nodes) - 1:
        return []
    chain = [(inputs[0].id, "Input")]
    current = inputs[0].id
    while True:
        outgoing = net.outgoing(current)
        if len(outgoing) != 1:
            break
        current = outgoing[0].dst
        chain.append((current, net.nodes[current].block))
    return chain if len(chain) == len(net.nodes) else []
