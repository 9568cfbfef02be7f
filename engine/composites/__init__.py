"""Composite blocks: networks used as blocks (issue 15; docs/composites.md).

A module per idea: `model` (records), `holder` (a document's definitions and name
resolution), `spec` (the composite BlockSpec), `checking` (shapes inside, use
shapes), `build` (nested modules, torch), `grouping` (group/ungroup), `library`
(the user's block library), `builtin` (the shipped composites).

Names load their module on first use (PEP 562): `engine.document` imports
`engine.composites.holder`, which must not pull the rest in.
"""

from __future__ import annotations

_LAZY = {
    "ExposedParam": "model", "InnerError": "model", "BLOCK_NAME": "model",
    "BlockHolder": "holder", "block_name_problem": "holder",
    "is_composite": "spec", "definition_of": "spec", "composite_spec": "spec",
    "use_shapes": "checking", "definition_checker": "checking",
    "find_cycle": "cycles",
    "group": "grouping", "ungroup": "grouping", "Regroup": "grouping",
    "suggest_block_name": "grouping",
    "library_dir": "library", "save_to_library": "library", "library_blocks": "library",
    "import_block": "library",
    "builtin_blocks": "builtin",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"engine.composites.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine.composites' has no attribute '{name}'")


__all__ = list(_LAZY)
