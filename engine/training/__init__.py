"""Trainers, one per paradigm, chosen by `training.task`, all speaking `events`.

The trainers load on first use (PEP 562), so `engine.training.schema` (what the
loader and the checker read) imports without them and without scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module: public names that load their module on first use
_LAZY = {
    "TRAINERS": "engine.training.registry", "make_trainer": "engine.training.registry",
    "RunOptions": "engine.training.base", "Trainer": "engine.training.base",
    **{name: "engine.training.events" for name in (
        "Activations", "Checkpoint", "Episode", "Epoch", "Failed", "Finished", "Notice",
        "Samples", "Started", "Step")},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine.training' has no attribute '{name}'")


__all__ = [
    "TRAINERS", "Activations", "Checkpoint", "Epoch", "Episode", "Failed", "Finished",
    "Notice", "RunOptions", "Samples", "Started", "Step", "Trainer", "make_trainer",
]
