"""What every trainer builds from `training`: device, seeds, optimizer, loss, schedule."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import NetCanvasError
from engine.training.choices import LOSSES, OPTIMIZERS, SCHEDULES  # noqa: F401  (torch-free names)


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
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {"name": "adam"})
    name = spec.pop("name", "adam").lower()
    lr = float(spec.pop("lr", 1e-3))
    weight_decay = float(spec.pop("weight_decay", 0.0))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(spec.get("momentum", 0.0)),
                               weight_decay=weight_decay, nesterov=bool(spec.get("nesterov", False)))
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        betas = tuple(spec.get("betas", (0.9, 0.999)))
        if name == "adamw" and "weight_decay" not in spec:
            weight_decay = weight_decay or 0.01
        return cls(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=float(spec.get("momentum", 0.0)),
                                   weight_decay=weight_decay)
    raise NetCanvasError(
        f"training.optimizer.name: unknown optimizer '{name}' (known: {', '.join(OPTIMIZERS)})"
    )


def make_loss(name: str | None) -> nn.Module:
    name = (name or "cross_entropy").lower()
    losses = {
        "cross_entropy": nn.CrossEntropyLoss,
        "nll": nn.NLLLoss,
        "mse": nn.MSELoss,
        "bce": nn.BCELoss,
        "bce_logits": nn.BCEWithLogitsLoss,
        "l1": nn.L1Loss,
    }
    if name not in losses:
        raise NetCanvasError(f"training.loss: unknown loss '{name}' (known: {', '.join(LOSSES)})")
    return losses[name]()


def make_scheduler(spec: dict[str, Any] | str | None, optimizer: torch.optim.Optimizer,
                   total_epochs: int):
    """An epoch-wise learning-rate schedule, or None (the default: constant)."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {"name": "none"})
    name = spec.get("name", "none").lower()
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=int(spec.get("step_size", 10)), gamma=float(spec.get("gamma", 0.5))
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_epochs, 1))
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(spec.get("gamma", 0.95)))
    raise NetCanvasError(
        f"training.lr_schedule: unknown schedule '{name}' (known: {', '.join(SCHEDULES)})"
    )
