"""What a sweep varies: `--param PATH=VALUES`, parsed, checked against the document, applied.

PATH is a training setting (`training.optimizer.lr`) or a node parameter
(`fc1.out_features`, or `net.fc1.out_features` in a document with several
networks). VALUES is a list (`1e-4,1e-3,1e-2`, `relu,tanh`) or a range
(`16:256`, `1e-4:1e-1:log`): integers when both ends are integers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.document import Document
from engine.errors import NetCanvasError


class SweepError(NetCanvasError):
    """A sweep that cannot run as asked; the message names the parameter."""


@dataclass(frozen=True)
class ParamSpec:
    path: str
    values: tuple[Any, ...] = ()  # a list of choices, or empty for a range
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False

    @property
    def text(self) -> str:
        if self.values:
            return f"{self.path}={','.join(str(v) for v in self.values)}"
        return f"{self.path}={_num(self.low)}:{_num(self.high)}{':log' if self.log else ''}"

    def grid(self) -> list[Any]:
        """The values a grid search walks: the list, or every integer of a short integer range."""
        if self.values:
            return list(self.values)
        if self.integer and self.high - self.low < 100 and not self.log:
            return list(range(int(self.low), int(self.high) + 1))
        raise SweepError(f"--param {self.text}: a grid search needs a list of values "
                         "(or an integer range of at most 100 values)")

    def suggest(self, trial: Any) -> Any:
        """Optuna's suggestion for this parameter in `trial`."""
        if self.values:
            return trial.suggest_categorical(self.path, list(self.values))
        if self.integer:
            return trial.suggest_int(self.path, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.path, self.low, self.high, log=self.log)


def parse_param(text: str) -> ParamSpec:
    path, sep, values = text.partition("=")
    path, values = path.strip(), values.strip()
    if not sep or not path or not values:
        raise SweepError(f"--param '{text}': expected PATH=VALUES, e.g. training.optimizer.lr=1e-4,1e-3")
    if "," not in values and ":" in values:
        return _parse_range(path, values, text)
    return ParamSpec(path, tuple(parse_value(v.strip()) for v in values.split(",") if v.strip()))


def _parse_range(path: str, values: str, text: str) -> ParamSpec:
    parts = values.split(":")
    log = len(parts) == 3 and parts[2] == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise SweepError(f"--param '{text}': a range is LOW:HIGH or LOW:HIGH:log")
    low, high = parse_value(parts[0]), parse_value(parts[1])
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or low >= high:
        raise SweepError(f"--param '{text}': the range needs two numbers, the first below the second")
    if log and low <= 0:
        raise SweepError(f"--param '{text}': a log range needs numbers above 0")
    integer = isinstance(low, int) and isinstance(high, int)
    return ParamSpec(path, (), float(low), float(high), log, integer)


def parse_value(text: str) -> Any:
    """JSON's reading of a value (numbers, true/false, null), else the text itself: what a
    person means in a sweep's `--param` or a small field ('28' -> 28, 'x' -> 'x')."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def check_param(doc: Document, spec: ParamSpec) -> None:
    """Refuse a path that names no training setting's section or no node, naming what exists."""
    if spec.path.startswith("training."):
        if len(spec.path.split(".")) < 2 or not spec.path.split(".")[1]:
            raise SweepError(f"--param {spec.path}: name a setting after 'training.'")
        return
    _node_address(doc, spec.path)


def apply_param(doc: Document, path: str, value: Any) -> None:
    """Set one swept value in `doc` (a trial's private copy)."""
    if path.startswith("training."):
        keys = path.split(".")[1:]
        section = doc.training
        for key in keys[:-1]:
            child = section.get(key)
            if not isinstance(child, dict):
                child = section[key] = {} if child is None else {"name": child}
            section = child
        section[keys[-1]] = value
        return
    network, node_id, param = _node_address(doc, path)
    doc.network(network).set_param(node_id, param, value)


def _node_address(doc: Document, path: str) -> tuple[str, str, str]:
    parts = path.split(".")
    if len(parts) == 3 and parts[0] in doc.networks:
        network, node_id, param = parts
    elif len(parts) == 2:
        (node_id, param), network = parts, _network_of(doc, parts[0], path)
    else:
        raise SweepError(f"--param {path}: expected training.SETTING, NODE.PARAM or NETWORK.NODE.PARAM")
    if node_id not in doc.networks[network].nodes:
        known = ", ".join(doc.networks[network].nodes)
        raise SweepError(f"--param {path}: no node '{node_id}' in network '{network}' (it has: {known})")
    return network, node_id, param


def _network_of(doc: Document, node_id: str, path: str) -> str:
    owners = [name for name, net in doc.networks.items() if node_id in net.nodes]
    if len(owners) == 1:
        return owners[0]
    if not owners:
        known = ", ".join(n for net in doc.networks.values() for n in net.nodes)
        raise SweepError(f"--param {path}: no node '{node_id}' in the document (it has: {known})")
    raise SweepError(f"--param {path}: node '{node_id}' is in several networks; write NETWORK.{path}")
