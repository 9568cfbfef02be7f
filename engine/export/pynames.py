"""Names and literals that are valid Python whatever a document holds.

A document's node ids, network names, title and parameter values end up in
`model.py`. Each goes through one function here, so a keyword (`class`), an
attribute `nn.Module` owns (`training`, `forward`), a name Python would mangle
inside a class (`__hidden` -> `_Main__hidden`), a NUL or a backslash in the
title, or a NaN parameter gives code that still imports and loads its
weights. Everything else keeps the name a person would have written.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import unicodedata
from typing import Any

from torch import nn

from engine.compiler import class_name

# Names model.py's own code reads: a variable or class with one of them would hide it.
RESERVED = {"self", "torch", "nn", "math", "Tensor", "List", "super", "getattr", "float", "_"}
MODULE_NAMES = frozenset(dir(nn.Module()) + list(vars(nn.Module())))


def plain(name: str) -> bool:
    """Whether `self.<name>` means the attribute `name` (ASCII, no keyword, no mangling)."""
    mangled = name.startswith("__") and not name.endswith("__")
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name) and not mangled


def layer_attributes(node_ids: list[str]) -> dict[str, str]:
    """Node id -> the attribute its layer gets in model.py (and its state_dict key).

    The node id itself, keywords and odd characters included (written with
    `add_module`), unless `nn.Module` has an attribute of that name: `forward`
    becomes `forward_`, like the compiler's attribute for it.
    """
    taken = set(node_ids)
    names = {}
    for node_id in node_ids:
        name = node_id
        while name in MODULE_NAMES or (name != node_id and name in taken):
            name += "_"
        taken.add(name)
        names[node_id] = name
    return names


def assign_layer(attr: str, layer: str) -> str:
    return f"self.{attr} = {layer}" if plain(attr) else f"self.add_module({quoted(attr)}, {layer})"


def read_layer(attr: str) -> str:
    return f"self.{attr}" if plain(attr) else f"getattr(self, {quoted(attr)})"


def variable(base: str) -> str:
    """An ASCII identifier close to `base` (`__hidden` -> `_hidden`); may be a keyword."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", base)
    if name.startswith("__") and not name.endswith("__"):
        name = "_" + name.lstrip("_")
    if not name or name[0].isdigit():
        name = "_" + name
    return name


class Names:
    """Readable variable names that are never keywords, reserved or taken twice."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = set(RESERVED) | set(taken or ())

    def fresh(self, base: str) -> str:
        name = variable(base)
        while keyword.iskeyword(name) or name in self.taken:
            name += "_"
        self.taken.add(name)
        return name


def class_names(networks: list[str], taken: set[str]) -> dict[str, str]:
    """Network -> class name (`q_network` -> `QNetwork`), valid and distinct."""
    taken = set(taken) | RESERVED | set(dir(builtins))
    names = {}
    for network in networks:
        name = re.sub(r"[^0-9A-Za-z_]", "", class_name(network))
        if not name or name[0].isdigit() or name.startswith("__"):
            name = "Network" + name.lstrip("_")
        while keyword.iskeyword(name) or name in taken:
            name += "Network"
        taken.add(name)
        names[network] = name
    return names


def quoted(text: str) -> str:
    """A string literal for `text`, in double quotes where that needs no escape."""
    literal = repr(text)
    if literal[0] == "'" and '"' not in text and "'" not in text:
        literal = f'"{literal[1:-1]}"'
    return literal


def literal(value: Any) -> str:
    """Python source that evaluates to `value`: `float("nan")` rather than `nan`."""
    if isinstance(value, float) and not math.isfinite(value):
        return 'float("nan")' if math.isnan(value) else ("-" if value < 0 else "") + 'float("inf")'
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, tuple | list):
        items = [literal(v) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)


def docstring_text(text: str) -> str:
    """`text` on one line, safe between triple quotes: escapes, not deletions.

    Backslashes and closing quotes are escaped, as are control, format and surrogate
    characters (a NUL, a lone `\\udcff`); letters of any script stay as they are.
    """
    line = " ".join(text.splitlines())
    out = []
    for index, char in enumerate(line):
        if char == "\\" or (char == '"' and line[index + 1:index + 2] in ('"', "")):
            out.append("\\" + char)  # a quote only where it would close the string
        elif unicodedata.category(char)[0] == "C":
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)
