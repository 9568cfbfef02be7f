"""The event language every trainer speaks; the GUI and the CLI only listen.

Events are small and carry plain numbers or numpy copies, never a tensor the
trainer will go on mutating, so they can cross threads as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.training.graph_attention import EdgeAttention


@dataclass(frozen=True)
class Started:
    task: str
    device: str
    parameters: dict[str, int]  # network -> trainable parameter count
    total_epochs: int = 0  # epochs (or episodes for RL) this run will do
    steps_per_epoch: int = 0
    start_epoch: int = 0  # > 0 when resuming
    notes: tuple[str, ...] = ()  # what the run does differently than asked (precision, compile)


@dataclass(frozen=True)
class Step:
    step: int
    epoch: int
    loss: float
    lr: float
    samples_per_s: float
    progress: float  # 0..1 of the whole run
    losses: dict[str, float] = field(default_factory=dict)  # e.g. generator/discriminator


@dataclass(frozen=True)
class Epoch:
    epoch: int
    train: dict[str, float]
    val: dict[str, float]
    progress: float


@dataclass(frozen=True)
class Episode:
    episode: int
    reward: float
    length: int
    epsilon: float
    progress: float
    loss: float | None = None


@dataclass(frozen=True)
class Activations:
    step: int
    # node id -> the first sample's activation; a graph attention layer's attention per edge
    tensors: dict[str, np.ndarray | EdgeAttention]


@dataclass(frozen=True)
class Samples:
    step: int
    kind: str  # "generated", "reconstruction" or "points"
    images: np.ndarray  # (K, C, H, W) images, or (K, D) points
    inputs: np.ndarray | None = None  # originals for reconstructions; real points for a 2-D GAN


@dataclass(frozen=True)
class Checkpoint:
    step: int
    epoch: int
    path: str


@dataclass(frozen=True)
class Notice:
    """Something a person should know that happened mid-run (torch.compile fell back)."""

    step: int
    message: str


@dataclass(frozen=True)
class Finished:
    metrics: dict[str, Any]
    stopped: bool  # True when stop() ended the run early
    seconds: float


@dataclass(frozen=True)
class Failed:
    message: str  # what a person should read
    step: int | None = None
    diverged: bool = False  # a guard stopped it (NaN or exploding loss), not a crash


Event = (Started | Step | Epoch | Episode | Activations | Samples | Checkpoint | Notice | Finished
         | Failed)
