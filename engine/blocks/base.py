"""The declaration language of blocks: ports, typed parameters and shape rules.

A block is data. The palette, the inspector, validation, the file format and
code generation all read the same `BlockSpec`, so adding a block is one
declaration in one family module and nothing else.

Shapes are tuples whose entries are ints or `None`; `None` is the batch axis
(shown as `N`), whose size is only known when data flows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import ShapeError

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int | None, ...]
Params = Mapping[str, Any]
Shapes = Mapping[str, Shape]

PARAM_KINDS = ("int", "float", "bool", "choice", "ints", "str")


@dataclass(frozen=True)
class Param:
    """A typed parameter with its default, its legal range and a one-line doc."""

    name: str
    kind: str
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()

    def type_error(self, value: Any) -> str | None:
        """Why `value` has the wrong JSON type for this parameter, or None."""
        expected = {
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "str": "a string",
            "choice": "one of " + ", ".join(map(str, self.choices)),
            "ints": "a list of integers",
        }[self.kind]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "choice": value in self.choices,
            "ints": isinstance(value, list | tuple)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
        }[self.kind]
        return None if ok else f"expected {expected}, got {value!r}"

    def range_error(self, value: Any) -> str | None:
        """Why a well-typed `value` is outside the declared range, or None."""
        if self.kind in ("int", "float"):
            if not math.isfinite(value):  # NaN compares false with every bound
                return f"{self.name} must be a finite number, got {value}"
            if self.min is not None and value < self.min:
                return f"{self.name} must be ≥ {_fmt_num(self.min)}, got {value}"
            if self.max is not None and value > self.max:
                return f"{self.name} must be ≤ {_fmt_num(self.max)}, got {value}"
        return None


@dataclass(frozen=True)
class Port:
    """A named input or output. An optional input falls back to `fallback`'s value."""

    name: str
    doc: str = ""
    optional: bool = False
    fallback: str | None = None


InferFn = Callable[[Params, Shapes], dict[str, Shape]]
BuildFn = Callable[[Params, Shapes], "nn.Module"]
MacsFn = Callable[[Params, Shapes, Shapes], int]
CountFn = Callable[[Params, Shapes], int]
WarnFn = Callable[[Params, Shapes], list[str]]

EXTRA_MERGE_PORTS = tuple("cdefgh")


@dataclass(frozen=True)
class BlockSpec:
    """Everything the program knows about one kind of block."""

    name: str
    category: str
    doc: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    params: tuple[Param, ...]
    infer: InferFn
    build: BuildFn | None = None
    # Where each output port sits in the module's return value: () is the value
    # itself, (1, 0) is `result[1][0]` (LSTM's h). Only for multi-output blocks.
    output_paths: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    variadic: bool = False  # merges accept c, d, ... beyond the declared a, b
    key_params: tuple[str, ...] = ()
    macs: MacsFn | None = None
    warnings: WarnFn | None = None
    # The parameter count, for the few blocks whose build is slow even on the meta
    # device (Embedding's normal_ init loads torch's decompositions: seconds, once).
    # Without it the checker builds the module on "meta" and counts.
    count: CountFn | None = None
    # A composite block's definition and how to check and build it
    # (engine.composites.spec.Composite); None for a catalogue block.
    composite: Any = field(default=None, compare=False)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, params: Params) -> dict[str, Any]:
        """The effective parameters: declared defaults overlaid with the node's own."""
        values = self.defaults()
        values.update({k: v for k, v in params.items() if k in values})
        return values

    def input_names(self, wired: set[str] | None = None) -> list[str]:
        """Declared inputs, plus the extra merge ports (c, d, ...) that are wired."""
        names = [p.name for p in self.inputs]
        if self.variadic:
            names += [n for n in EXTRA_MERGE_PORTS if wired and n in wired]
        return names

    def accepts_input(self, port: str) -> bool:
        return any(p.name == port for p in self.inputs) or (
            self.variadic and port in EXTRA_MERGE_PORTS
        )

    def input_port(self, name: str) -> Port:
        for p in self.inputs:
            if p.name == name:
                return p
        return Port(name, optional=True)

    def output_names(self) -> list[str]:
        return [p.name for p in self.outputs]


# ---- helpers used by the shape rules of every family --------------------------


def fmt_shape(shape: Shape) -> str:
    """`(None, 20, 24, 24)` -> `N×20×24×24`, the notation drawn on edges."""
    return "×".join("N" if d is None else str(d) for d in shape) if shape else "scalar"


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def need_rank(block: str, shape: Shape, ranks: tuple[int, ...], layout: str, port: str = "in"):
    """Refuse an input whose rank is not one of `ranks`, naming the expected layout."""
    if len(shape) not in ranks:
        hint = ""
        if len(shape) > max(ranks):
            hint = "; add a Flatten or Reshape before it"
        elif len(shape) < min(ranks):
            hint = "; add a Reshape before it"
        raise ShapeError(
            f"{block} expects {layout} on '{port}', got {fmt_shape(shape)}{hint}"
        )


def need_spatial(block: str, shape: Shape, layout: str) -> None:
    """Refuse the batch axis N where a block computes with a size (a T×N×F state, say).

    The rule would pass N through while the real layer shrinks or grows that axis.
    """
    if None in shape[1:]:
        raise ShapeError(f"{block} expects {layout} with the batch N first, got {fmt_shape(shape)}")


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's formula)."""
    out = math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1)
    if out < 1:
        raise ShapeError(
            f"the input is too small: length {size} with kernel {kernel}, stride {stride}, "
            f"padding {padding} leaves {out}"
        )
    return out


def numel(shape: Shape) -> int:
    """Elements per sample: the batch axis counts as one."""
    return math.prod(1 if d is None else d for d in shape)


def same(params: Params, shapes: Shapes) -> dict[str, Shape]:
    """The rule of every shape-preserving block."""
    return {"out": shapes["in"]}


IN = (Port("in"),)
OUT = (Port("out"),)
