"""Type- and range-checked reading of a document's settings, with errors that name the key.

A typo in a document (`"epsilon_end": "0.05"`, `"seq_len": -3`) must give a
message that names `training.dqn.epsilon_end`, not a TypeError deep inside a
loop; datasets (`training.dataset.*`) and trainers (`training.<task>.*`) read
their options through `checked`.
"""

from __future__ import annotations

from typing import Any

from engine.errors import NetCanvasError

_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def checked(value: Any, where: str, default: Any, kind: type = float, *,
            minimum: float | None = None, maximum: float | None = None,
            choices: tuple[Any, ...] | None = None,
            error: type[NetCanvasError] = NetCanvasError) -> Any:
    """`value` (already looked up, `default` when absent) checked against kind, range and choices.

    JSON has no int/float distinction a person would notice, so an integral float
    is accepted where an integer is asked for, and an int where a float is.
    """
    if value is None and default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise error(f"{where}: expected {_KINDS.get(kind, kind.__name__)}, got {value!r}")
    if choices is not None and value not in choices:
        raise error(f"{where}: expected one of {', '.join(map(str, choices))}, got {value!r}")
    if minimum is not None and value < minimum:
        raise error(f"{where}: must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise error(f"{where}: must be at most {maximum}, got {value!r}")
    return value
