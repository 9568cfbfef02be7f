"""The trainer skeleton every paradigm shares: controls, failure handling, results.

A trainer is plain Python: `run()` is a generator of events, so the CLI prints
them, a test collects them and the GUI's worker thread forwards them. `pause`,
`resume`, `stop` and `watch` may be called from any thread.
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.compiler import compile_network
from engine.document import Document
from engine.errors import NetCanvasError
from engine.training.events import Activations, Checkpoint, Event, Failed, Finished, Started
from engine.training.setup import resolve_device, seed_everything


class NonFiniteLoss(NetCanvasError):
    """The loss became NaN or infinite; the run stops, keeping the last finite weights."""

    def __init__(self, step: int, epoch: int, value: float) -> None:
        self.step = step
        super().__init__(
            f"the loss became {value} at step {step} (epoch {epoch}); training stopped and the "
            "last weights with a finite loss are kept. Try a lower learning rate, or check the "
            "data and the loss for values out of range"
        )


class StopRequested(Exception):
    """Raised inside the loop when stop() was called; ends the run cleanly."""


@dataclass
class RunOptions:
    """Overrides of the document's training section, and run-time settings."""

    device: str | None = None
    seed: int | None = None
    epochs: int | None = None  # epochs, or episodes for RL
    watch: Iterable[str] = ()  # node ids whose activations are reported
    activation_interval: float = 0.5  # seconds between Activations events
    resume: bool = False  # continue from doc.weights / doc.train_state
    checkpoint_path: str | None = None  # write a bundle here every `checkpoint_every` epochs
    checkpoint_every: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Shared machinery; subclasses implement `setup()` and `train()`."""

    task = "base"

    def __init__(self, doc: Document, options: RunOptions | None = None) -> None:
        self.doc = doc
        self.options = options or RunOptions()
        self.training = doc.training
        self.seed = int(self.options.seed if self.options.seed is not None
                        else self.training.get("seed", 0))
        self.device = torch.device("cpu")
        self.models: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.metrics: dict[str, Any] = {}
        self.history: dict[str, list] = {}
        self.step = 0
        self.epoch = 0
        self.steps_per_epoch = 0
        self.stopped = False
        self._run_flag = threading.Event()
        self._run_flag.set()
        self._stop_flag = threading.Event()
        self._watch: set[str] = set(self.options.watch)
        self._captured: dict[str, np.ndarray] = {}
        self._capture_due = 0.0
        self._hooks: list[Any] = []
        self._hooked: set[str] = set()  # the watch set the hooks were made for
        self._hooked_ids: set[str] = set()  # the watched ids that exist in a model
        self._good_state: dict[str, dict[str, torch.Tensor]] = {}
        self.generator = torch.Generator().manual_seed(self.seed)

    # ---- controls (any thread) ----------------------------------------------------

    def pause(self) -> None:
        self._run_flag.clear()

    def resume(self) -> None:
        self._run_flag.set()

    def stop(self) -> None:
        self._stop_flag.set()
        self._run_flag.set()

    @property
    def paused(self) -> bool:
        return not self._run_flag.is_set()

    def watch(self, node_ids: Iterable[str]) -> None:
        """Report activations of these nodes from now on (replaces the previous set).

        Only records the wish: the training thread moves its hooks between steps, so
        an unwatched model runs with no hook at all.
        """
        self._watch = set(node_ids)

    def checkpoint_controls(self) -> None:
        """Called between steps: waits while paused, raises StopRequested on stop."""
        while not self._run_flag.wait(timeout=0.1):
            pass
        if self._stop_flag.is_set():
            raise StopRequested
        if self._watch != self._hooked:
            self._install_hooks()

    # ---- the run --------------------------------------------------------------

    @property
    def total_epochs(self) -> int:
        return int(self.options.epochs if self.options.epochs is not None
                   else self.training.get("epochs", 10))

    def run(self) -> Iterator[Event]:
        """Train, yielding events; always ends with Finished or Failed."""
        began = time.perf_counter()
        try:
            self.device = resolve_device(self.options.device or self.training.get("device"))
            self.generator = seed_everything(self.seed)
            self.setup()
            self._restore_resume_state()
            self._install_hooks()
            yield self.started()
            try:
                yield from self.train()
            except StopRequested:
                self.stopped = True  # a stopped run still reports how good its weights are
            self.metrics = self.final_metrics()
        except NonFiniteLoss as exc:
            self._restore_good_state()
            self._publish_results()
            yield Failed(str(exc), exc.step)
            return
        except NetCanvasError as exc:
            yield Failed(str(exc), self.step)
            return
        except torch.cuda.OutOfMemoryError:
            yield Failed(f"the GPU ran out of memory at step {self.step}: lower batch_size", self.step)
            return
        except Exception as exc:  # noqa: BLE001 - any failure must reach the person as a message
            yield Failed(_describe_crash(exc), self.step)
            return
        finally:
            self._remove_hooks()
        self._publish_results()
        yield Finished(dict(self.metrics), self.stopped, time.perf_counter() - began)

    def started(self) -> Started:
        return Started(
            self.task, str(self.device),
            {n: sum(p.numel() for p in m.parameters() if p.requires_grad)
             for n, m in self.models.items()},
            self.total_epochs, self.steps_per_epoch, self.epoch,
        )

    def setup(self) -> None:
        """Load data and build models and optimizers (subclasses)."""
        raise NotImplementedError

    def train(self) -> Iterator[Event]:
        """The loop itself (subclasses)."""
        raise NotImplementedError

    def final_metrics(self) -> dict[str, Any]:
        """Closing measurements (test accuracy, ...), also taken when a run is stopped.

        Subclasses override it; the default keeps what the loop recorded in `metrics`.
        """
        return dict(self.metrics)

    # ---- helpers for subclasses ----------------------------------------------------

    def build(self, name: str) -> nn.Module:
        """Compile network `name` onto the device; trained weights load when resuming."""
        model = compile_network(self.doc, name, trained=self.options.resume)
        model = model.to(self.device)
        self.models[name] = model
        return model

    def check_loss(self, loss: torch.Tensor) -> float:
        """The loss as a float, raising NonFiniteLoss before a bad update is applied."""
        value = float(loss.detach())
        if not np.isfinite(value):
            raise NonFiniteLoss(self.step + 1, self.epoch + 1, value)
        return value

    def remember_good_state(self) -> None:
        """Snapshot weights known to be finite; restored if the run later diverges."""
        self._good_state = {
            name: {k: v.detach().clone() for k, v in m.state_dict().items()}
            for name, m in self.models.items()
        }

    def progress(self, epoch_fraction: float) -> float:
        start = self.options.resume and self.doc.train_state.get("epoch", 0) or 0
        span = max(self.total_epochs - start, 1)
        return min(max((epoch_fraction - start) / span, 0.0), 1.0)

    def pop_activations(self) -> Activations | None:
        """The activations captured since the last call, at most once per interval."""
        if not self._captured:
            return None
        event = Activations(self.step, self._captured)
        self._captured = {}
        return event

    def epoch_ended(self, epoch: int) -> Iterator[Event]:
        """After each epoch: a Checkpoint bundle when the caller asked for them.

        Writing the bundle (atomically) mid-run means a crash or a power cut
        loses at most `checkpoint_every` epochs; the bundle resumes like any other.
        """
        path, every = self.options.checkpoint_path, max(1, self.options.checkpoint_every)
        if path is None or epoch % every:
            return
        from engine.bundle import save_bundle  # the bundle module imports the trainers' peers

        self._publish_results()
        save_bundle(self.doc, None, path)
        yield Checkpoint(self.step, epoch, str(path))

    def record(self, key: str, value: Any) -> None:
        self.history.setdefault(key, []).append(value)

    # ---- internals --------------------------------------------------------------

    def _restore_resume_state(self) -> None:
        state = self.doc.train_state if self.options.resume else {}
        if not state:
            return
        for name, optimizer in self.optimizers.items():
            saved = state.get("optimizers", {}).get(name)
            if saved:
                optimizer.load_state_dict(saved)
        self.step = int(state.get("step", 0))
        self.epoch = int(state.get("epoch", 0))
        rng = state.get("rng", {})
        if "shuffle" in rng:
            self.generator.set_state(rng["shuffle"])
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        self.history = copy.deepcopy(self.doc.metrics.get("history", {}))

    def _install_hooks(self) -> None:
        """Hook exactly the watched nodes' submodules (named by node id, `class` -> `class_`)."""
        self._remove_hooks()
        self._hooked_ids = set()
        watched = set(self._watch)
        for model in self.models.values():
            for node_id, attribute in model.meta.get("submodules", {}).items():
                if node_id in watched:
                    module = model.get_submodule(attribute)
                    self._hooks.append(module.register_forward_hook(self._make_hook(node_id)))
                    self._hooked_ids.add(node_id)
        self._hooked = watched

    def _make_hook(self, node_id: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if node_id not in self._watch or time.monotonic() < self._capture_due:
                return
            value = output
            if isinstance(value, tuple):  # attention gives (out, weights); prefer the map
                value = value[1] if len(value) > 1 and isinstance(value[1], torch.Tensor) else value[0]
                if isinstance(value, tuple):
                    value = value[0]
            if isinstance(value, torch.Tensor):
                first = value[0] if value.dim() > 1 else value
                self._captured[node_id] = first.detach().float().cpu().numpy().copy()
            if set(self._captured) >= self._hooked_ids:
                self._capture_due = time.monotonic() + self.options.activation_interval

        return hook

    def _remove_hooks(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def _restore_good_state(self) -> None:
        for name, state in self._good_state.items():
            model = self.models[name]
            finite = all(torch.isfinite(p).all() for p in model.parameters())
            if not finite:
                model.load_state_dict(state)

    def _publish_results(self) -> None:
        """Hand the trained state to the document: weights, metrics, resume state."""
        self.doc.weights = {
            name: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
            for name, m in self.models.items()
        }
        self.doc.metrics = {**self.metrics, "history": self.history}
        self.doc.train_state = {
            "task": self.task,
            "step": self.step,
            "epoch": self.epoch,
            "optimizers": {n: _cpu_state(o.state_dict()) for n, o in self.optimizers.items()},
            # Random states, so a resumed run continues exactly as an uninterrupted one.
            "rng": {"shuffle": self.generator.get_state(), "torch": torch.get_rng_state()},
        }


def _cpu_state(state: Any) -> Any:
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {k: _cpu_state(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_cpu_state(v) for v in state]
    return copy.deepcopy(state)


def _describe_crash(exc: Exception) -> str:
    """One readable line for an unexpected exception, with where it happened."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (in {frame.name}, {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
    return f"training failed: {type(exc).__name__}: {exc}{where}"
