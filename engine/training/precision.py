"""How a run's forward passes and updates execute: precision (autocast, GradScaler) and torch.compile.

The trainer base (`engine/training/base.py`) owns one `Acceleration` per run and
asks it three things: the context every forward pass runs in (`autocast`), the
update (`update`: a GradScaler for fp16) and which callable runs a network
(`runner`: the compiled one when `--compile` asked for it). With the defaults
(fp32, no compile) every answer is the plain PyTorch call, so a default run's
results are the same bytes as before this module existed.

Precision. bf16 runs on the CPU and on CUDA GPUs that support it; fp16 runs on
CUDA only, with a `torch.amp.GradScaler` per optimizer (a GAN's two updates are
two independent scaled steps). Network outputs leave the autocast region as
float32, so every loss is computed in float32 (autocast refuses `binary_cross_entropy`
in half precision, and reductions lose digits in it). Weights and optimizer
states stay float32: autocast only lowers the matmuls and convolutions.

Compilation. `torch.compile` of the fx GraphModule (inductor backend). The
uncompiled module stays the trainer's model: saved weights never gain the
`_orig_mod.` prefix and DQN's target copy is a plain module. Missing
prerequisites (no C++ compiler for the CPU, no Triton for CUDA, another device)
are found before the run starts and reported in `Started.notes`; a backend that
fails anyway at its first call is caught, the call re-runs eagerly, and a
`Notice` event says so. While activations are watched, forward passes run eagerly:
the capture hooks copy tensors to numpy, which a compiled graph cannot do inside.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from engine.errors import NetCanvasError
from engine.training.schema.declared import TOP_SETTINGS

PRECISIONS: tuple[str, ...] = TOP_SETTINGS["precision"].choices  # fp32, bf16, fp16
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
COMPILE_BACKEND = "inductor"  # torch.compile's default; tests use "eager" (dynamo alone, fast)


def precision_problem(name: str, device: torch.device) -> str | None:
    """Why `name` cannot run on `device`, or None: checked before anything is built."""
    if name not in PRECISIONS:
        return f"training.precision: unknown precision '{name}' ({', '.join(PRECISIONS)})"
    if name == "fp32":
        return None
    if device.type == "cpu" and name == "fp16":
        return ("training.precision: fp16 needs a CUDA GPU (autocast to float16 on the CPU "
                "is slow and unscaled); use bf16 on the CPU, or fp32")
    if device.type == "cuda" and name == "bf16" and not torch.cuda.is_bf16_supported():
        return (f"training.precision: this GPU ({torch.cuda.get_device_name(device)}) has no "
                "bfloat16; use fp16 (with its GradScaler) or fp32")
    if device.type not in ("cpu", "cuda"):
        return (f"training.precision: {name} is supported on cpu (bf16) and cuda (bf16, fp16), "
                f"not on {device.type}; use fp32 there")
    return None


def compile_problem(device: torch.device) -> str | None:
    """Why torch.compile's inductor backend cannot run here, or None (a guess made up front)."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]} in this PyTorch"
    if COMPILE_BACKEND != "inductor":
        return None  # a backend without code generation needs no compiler
    if device.type == "cpu":
        names = ("cl",) if sys.platform == "win32" else ("g++", "c++", "clang++")
        if not any(shutil.which(n) for n in names):
            return f"torch.compile needs a C++ compiler on the CPU ({' or '.join(names)} not found)"
        return None
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "torch.compile needs Triton on CUDA (pip install triton)"
    return f"torch.compile's inductor backend does not run on {device.type} here"


class CompiledForward:
    """A network's compiled forward, falling back to the eager module if the backend fails.

    torch.compile is lazy: the backend (C++ compiler, Triton) first runs at the
    first call. That call is tried; on an exception it re-runs eagerly. If the
    eager call succeeds the backend was at fault, and the compiled form is
    dropped for good with a note; if it fails too, the error was the network's
    own and propagates as it would have without --compile.
    """

    def __init__(self, model: nn.Module, compiled: Callable[..., Any],
                 note: Callable[[str], None]) -> None:
        self.model = model
        self.compiled: Callable[..., Any] | None = compiled
        self.note = note

    def __call__(self, *inputs: torch.Tensor) -> Any:
        if self.compiled is None:
            return self.model(*inputs)
        try:
            return self.compiled(*inputs)
        except Exception as exc:  # noqa: BLE001 - decided by the eager re-run below
            out = self.model(*inputs)
            self.compiled = None
            self.note(f"torch.compile failed ({_first_line(exc)}); training continues "
                      "uncompiled (eager)")
            return out


class Acceleration:
    """One run's precision and compilation, chosen from RunOptions over the document."""

    def __init__(self, precision: str, compile_: bool, device: torch.device,
                 applies: bool = True, task: str = "") -> None:
        problem = precision_problem(precision, device)
        if problem:
            raise NetCanvasError(problem)
        self.device = device
        self.notes: list[str] = []  # for Started: decided before the run
        self.pending: list[str] = []  # found during the run: Notice events
        if precision != "fp32" and not applies:
            self.notes.append(f"precision {precision} does not apply to {task}: its update is a "
                              "rule on the weights, not a gradient step, so it runs in fp32")
            precision = "fp32"
        self.precision = precision
        self.dtype = _DTYPES[precision]
        self.scalers: dict[int, torch.amp.GradScaler] = {}
        self.compile = compile_
        self._compiled: dict[int, CompiledForward] = {}
        if compile_:
            problem = compile_problem(device)
            if problem:
                self.notes.append(f"{problem}: training runs uncompiled (eager)")
                self.compile = False

    # ---- forward passes -----------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager:
        """torch.autocast for bf16/fp16; nothing at all for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def output(self, out: Any) -> Any:
        """A network's output as float32 when autocast may have lowered it (losses in float32)."""
        if self.dtype is not None and isinstance(out, torch.Tensor) and out.is_floating_point():
            return out.float()
        return out

    def prepare(self, model: nn.Module) -> nn.Module:
        """Compile `model` when asked; the module itself is returned unchanged (see the docstring)."""
        if self.compile:
            compiled = torch.compile(model, backend=COMPILE_BACKEND)
            self._compiled[id(model)] = CompiledForward(model, compiled, self.pending.append)
        return model

    def runner(self, model: nn.Module, eager: bool = False) -> Callable[..., Any]:
        """What runs `model`: its compiled forward, or the module (always when `eager`)."""
        if eager:
            return model
        return self._compiled.get(id(model), model)

    # ---- updates --------------------------------------------------------------------

    def update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
               clip: float | None) -> None:
        """Backpropagate, clip and step; through a GradScaler for fp16."""
        scaler = self._scaler(optimizer)
        if scaler is None:
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(_params(optimizer), clip)
            optimizer.step()
            return
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            nn.utils.clip_grad_norm_(_params(optimizer), clip)
        scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        scaler.update()

    def _scaler(self, optimizer: torch.optim.Optimizer) -> torch.amp.GradScaler | None:
        if self.precision != "fp16":
            return None
        key = id(optimizer)
        if key not in self.scalers:
            self.scalers[key] = torch.amp.GradScaler(self.device.type)
        return self.scalers[key]

    # ---- resume ---------------------------------------------------------------------

    def state(self, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
        """Each optimizer's GradScaler state by the optimizer's name (empty unless fp16)."""
        return {name: self.scalers[id(o)].state_dict()
                for name, o in optimizers.items() if id(o) in self.scalers}

    def load_state(self, state: dict[str, Any], optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """Restore `state`'s scales, for the optimizers that still exist, when fp16 runs again."""
        for name, optimizer in optimizers.items():
            saved = state.get(name)
            scaler = self._scaler(optimizer) if saved else None
            if scaler is None:
                continue
            if not isinstance(saved, dict) or not isinstance(saved.get("scale"), int | float):
                raise NetCanvasError(f"train_state.json: scalers.{name} is not a GradScaler state "
                                     "(expected an object with a number 'scale')")
            scaler.load_state_dict(saved)


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
