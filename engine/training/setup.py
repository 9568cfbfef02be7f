"""What every trainer builds from `training`: device, seeds, optimizer, loss, schedule.

Names and defaults come from the declaration in `engine/training/schema`: an
optimizer, loss or schedule added here is declared there too (a test holds
the two lists equal).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import NetCanvasError
from engine.training import schema
from engine.training.schema import OPTIMIZERS, SCHEDULES

LOSS_MODULES: dict[str, type[nn.Module]] = {
    "cross_entropy": nn.CrossEntropyLoss,
    "nll": nn.NLLLoss,
    "mse": nn.MSELoss,
    "bce": nn.BCELoss,
    "bce_logits": nn.BCEWithLogitsLoss,
    "l1": nn.L1Loss,
}
LOSSES = tuple(LOSS_MODULES)  # huber, also declared, is the DQN's own (engine/training/dqn.py)


def resolve_device(name: str | None) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; asking for a missing device is an error."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NetCanvasError(f"training.device: unknown device '{name}' (auto, cpu, cuda, mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise NetCanvasError("training.device: CUDA was asked for but no CUDA GPU is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise NetCanvasError(
                f"training.device: {name} does not exist ({torch.cuda.device_count()} GPU(s))"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise NetCanvasError("training.device: MPS was asked for but is not available here")
    return device


def available_devices() -> list[str]:
    """The choices a device picker offers: auto, cpu, each CUDA device, mps."""
    devices = ["auto", "cpu"]
    devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; returns a generator for shuffling batches."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_optimizer(spec: dict[str, Any] | str | None, params) -> torch.optim.Optimizer:
    """The `training.optimizer` object (or bare name) as a torch optimizer, schema defaults."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {})
    name = str(spec.get("name", schema.default("optimizer", "name"))).lower()
    if name not in OPTIMIZERS:
        raise NetCanvasError(
            f"training.optimizer.name: unknown optimizer '{name}' (known: {', '.join(OPTIMIZERS)})"
        )

    def get(key: str) -> Any:
        return spec.get(key, schema.default("optimizer", key, name=name))

    lr, weight_decay = float(get("lr")), float(get("weight_decay"))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(get("momentum")),
                               weight_decay=weight_decay, nesterov=bool(get("nesterov")))
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=tuple(get("betas")), weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr, momentum=float(get("momentum")),
                               weight_decay=weight_decay)


def make_loss(name: str | None) -> nn.Module:
    """A torch loss by its `training.loss` name (None: the schema's default)."""
    name = (name or schema.default("", "loss")).lower()
    if name not in LOSS_MODULES:
        raise NetCanvasError(f"training.loss: unknown loss '{name}' (known: {', '.join(LOSSES)})")
    return LOSS_MODULES[name]()


def make_scheduler(spec: dict[str, Any] | str | None, optimizer: torch.optim.Optimizer,
                   total_epochs: int):
    """An epoch-wise learning-rate schedule, or None (the default: constant)."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {})
    name = str(spec.get("name", schema.default("lr_schedule", "name"))).lower()

    def get(key: str) -> Any:
        return spec.get(key, schema.default("lr_schedule", key, name=name))

    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(get("step_size")),
                                               gamma=float(get("gamma")))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_epochs, 1))
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(get("gamma")))
    raise NetCanvasError(
        f"training.lr_schedule: unknown schedule '{name}' (known: {', '.join(SCHEDULES)})"
    )
