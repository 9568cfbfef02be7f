"""The settings a run actually used, written back into the document it trains.

`netcanvas train --seed 7 --epochs 3` must leave a bundle whose document says
seed 7 and 3 epochs: the overrides are applied to the trained document's
training section before the run starts, so the bundle, `run.json` and a
resumed run all read the same numbers. No torch here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.document import Document  # imports the blocks, hence torch

RL_TASKS = ("dqn", "q_learning")


def apply_overrides(doc: Document, options: Any) -> None:
    """Write `options`' seed, epochs (episodes for RL), device and precision into `doc.training`.

    Assigns the dict directly: the trained document is a private copy (the
    GUI's) or the CLI's own, and no editor listens to it.
    """
    training = doc.training
    if getattr(options, "seed", None) is not None:
        training["seed"] = int(options.seed)
    if getattr(options, "device", None):
        training["device"] = str(options.device)
    precision = getattr(options, "precision", None)
    if precision:
        training["precision"] = str(precision)
    epochs = getattr(options, "epochs", None)
    if epochs is None:
        return
    task = training.get("task")
    section = training.get(task) if isinstance(task, str) else None
    if task in RL_TASKS and isinstance(section, dict) and "episodes" in section:
        section["episodes"] = int(epochs)  # what the episodic trainer and can_resume read
    else:
        training["epochs"] = int(epochs)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (`optimizer.lr`); lists become their text."""
    if not isinstance(tree, dict):
        return {prefix: tree if isinstance(tree, int | float | str | bool) or tree is None else str(tree)}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def document_settings(record: dict[str, Any]) -> dict[str, Any]:
    """A run's comparable settings: `training.*` and `<network>.<node>.<param>` from its document."""
    document = record.get("document") or {}
    flat = flatten(document.get("training") or {}, "training")
    for net_name, network in (document.get("networks") or {}).items():
        for node in network.get("nodes") or []:
            for param, value in (node.get("params") or {}).items():
                flat.update(flatten(value, f"{net_name}.{node.get('id')}.{param}"))
    return flat
