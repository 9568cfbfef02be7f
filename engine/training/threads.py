"""How many CPU threads a run trains on: one, where a training step is too small to split.

PyTorch starts one intra-op thread per core. A network whose training step is
small gains nothing from them: the few operations torch splits cost more to
synchronise than they save, and after each parallel region the idle threads
spin before they sleep, taking cores from everything else on the machine. On
two cores that is the window: every moment its GUI thread runs, one training
thread is off its core and the other waits for it (docs/responsiveness.md).
Measured over the presets (`benchmarks/cpu_threads.py`), every network whose
step is under SMALL_STEP_FLOPS and makes no tensor past SPLIT_ELEMENTS trains
as fast or faster on one thread, and every network that gains from more
threads is far past one limit or the other.

So the run's first step is measured (`torch.utils.flop_counter` counts its
floating-point operations; a dispatch mode notes the largest tensor it makes)
and a small step's run goes on at one thread. `netcanvas train`, the Python
API and the window's training host all train through here, so each trains a
document at the same speed to the same numbers. A count the person asked for
(`RunOptions.threads`, `netcanvas train --threads N`) is used as given, and a
run leaves torch's count as it found it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

SMALL_STEP_FLOPS = 10_000_000  # a step under this (forward, backward, update) trains on one thread
SPLIT_ELEMENTS = 32_768  # at::internal::GRAIN_SIZE: torch never splits elementwise work below it


class LargestTensor(TorchDispatchMode):
    """Notes the element count of the largest tensor any operation makes (weights' updates too)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in pytree.tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.elements = max(self.elements, leaf.numel())
        return out


@dataclass(frozen=True)
class StepSize:
    """What one training step asked of the CPU."""

    flops: int
    largest_tensor: int

    @property
    def small(self) -> bool:
        """Too small for a second thread to help: under both limits."""
        return self.flops < SMALL_STEP_FLOPS and self.largest_tensor < SPLIT_ELEMENTS

    def describe(self) -> str:
        flops = f"{self.flops:,}" if self.flops < 1e6 else f"{self.flops / 1e6:.1f} million"
        return f"a step is {flops} floating-point operations, its largest tensor " \
               f"{self.largest_tensor:,} elements"


def measure_step(step: Callable[..., Any], *args: Any) -> tuple[Any, StepSize]:
    """Run `step(*args)` once while counting what it does; returns its result and its size."""
    with FlopCounterMode(display=False) as flops, LargestTensor() as largest:
        result = step(*args)
    return result, StepSize(int(flops.get_total_flops()), largest.elements)


class CpuThreads:
    """One run's intra-op thread count: a context for the run, `first_step` sizes it.

    `adaptive` is False where the first step says nothing about the rest: a GPU
    run (the CPU only feeds it), a compiled one (its first step is compilation)
    or one of several processes (torchrun gives each its own count).
    """

    def __init__(self, asked: int | None, adaptive: bool) -> None:
        if asked is not None and asked < 1:
            raise ValueError(f"threads must be at least 1, not {asked}")
        self.asked = asked
        self.sizing = adaptive and asked is None  # the next step is measured
        self.note = ""  # what was decided, for the run's Notice
        self.size: StepSize | None = None  # the first step's, once measured
        self._previous = torch.get_num_threads()

    def __enter__(self) -> CpuThreads:
        self._previous = torch.get_num_threads()
        if self.asked is not None:
            torch.set_num_threads(self.asked)
        self.sizing = self.sizing and torch.get_num_threads() > 1
        return self

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self._previous)

    def first_step(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run the run's first step measured; a small one leaves the rest on one thread."""
        self.sizing = False
        result, size = measure_step(step, *args)
        self.size = size
        if size.small:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            self.note = (f"training on 1 CPU thread instead of {threads}: {size.describe()}, "
                         "too small for more threads to help "
                         "(`netcanvas train --threads N` sets a count)")
        return result
