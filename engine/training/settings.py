"""Reading a trainer's own section of `training` (e.g. `training.dqn`) with clear errors.

A typo in a document must give a message that names the key, not a TypeError
deep inside a loop; so every trainer-specific knob goes through `setting`.
"""

from __future__ import annotations

from typing import Any

from engine.errors import NetCanvasError
from engine.options import checked


def section(training: dict[str, Any], name: str) -> dict[str, Any]:
    """`training[name]` as a dict (missing means all defaults)."""
    value = training.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NetCanvasError(f"training.{name}: expected an object of settings, got {value!r}")
    return value


def setting(training: dict[str, Any], name: str, key: str, default: Any, kind: type = float, *,
            minimum: float | None = None, maximum: float | None = None,
            choices: tuple[Any, ...] | None = None) -> Any:
    """`training[name][key]`, type- and range-checked; JSON's ints pass where floats are asked."""
    return checked(section(training, name).get(key, default), f"training.{name}.{key}", default,
                   kind, minimum=minimum, maximum=maximum, choices=choices)


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
