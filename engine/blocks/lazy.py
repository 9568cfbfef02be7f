"""Layer constructors that import their module on the first call.

The block declarations name `nn.Linear`, `modules.GraphConv`, ... inside their
`build` functions; importing torch just to declare them would cost every
`import engine.blocks` (the shape checker, `netcanvas check`, the palette)
about two seconds. `nn.Linear(...)` through this stand-in imports `torch.nn`
when a block is first built, then calls the real class. Only calls are
supported: code that needs the class itself (isinstance, subclassing) imports
torch directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class LazyConstructors:
    """`lazy.Name(*args)` is `module.Name(*args)`, the module imported on that first call."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)

        def construct(*args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(self._module), name)(*args, **kwargs)

        construct.__name__ = construct.__qualname__ = name
        return construct


nn = LazyConstructors("torch.nn")
modules = LazyConstructors("engine.blocks.modules")
