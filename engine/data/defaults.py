"""Per-dataset training defaults: epochs and learning rate that reach a sensible accuracy.

The schema's defaults (10 epochs, lr 0.001) suit no dataset in particular: a new
iris classifier stopped at 56% with them. Each small dataset here declares what
a plain MLP needs; the Training tab writes them when the dataset is picked (an
undoable edit) and the trainer uses them where the document leaves them unset.
tests/test_dataset_defaults.py trains with them.
"""

from __future__ import annotations

import copy
from typing import Any

# dataset -> {"epochs": ..., "lr": ...} (lr is training.optimizer.lr)
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "iris": {"epochs": 50, "lr": 0.01},
    "digits": {"epochs": 20, "lr": 0.003},
    "moons": {"epochs": 50, "lr": 0.01},
    "circles": {"epochs": 50, "lr": 0.01},
    "xor": {"epochs": 50, "lr": 0.01},
    "blobs": {"epochs": 20, "lr": 0.01},
    "spirals": {"epochs": 100, "lr": 0.01},
}


def dataset_name(training: dict[str, Any]) -> str | None:
    spec = training.get("dataset")
    name = spec.get("name") if isinstance(spec, dict) else spec
    return name if isinstance(name, str) else None


def dataset_defaults(training: dict[str, Any]) -> dict[str, Any]:
    """The declared epochs/lr of `training.dataset` ({} for a dataset without any)."""
    return dict(DATASET_DEFAULTS.get(dataset_name(training) or "", {}))


def with_dataset_defaults(training: dict[str, Any]) -> dict[str, Any]:
    """`training` with the dataset's epochs and optimizer.lr filled in where it has none.

    A copy: the document keeps exactly what the person wrote.
    """
    found = dataset_defaults(training)
    if not found:
        return training
    filled = copy.deepcopy(training)
    if "epochs" not in filled and "epochs" in found:
        filled["epochs"] = found["epochs"]
    optimizer = filled.get("optimizer")
    optimizer = {"name": optimizer} if isinstance(optimizer, str) else dict(optimizer or {})
    if "lr" not in optimizer and "lr" in found:
        filled["optimizer"] = {**optimizer, "lr": found["lr"]}
    return filled


__all__ = ["DATASET_DEFAULTS", "dataset_defaults", "with_dataset_defaults"]
