"""The one training loop every paradigm shares; a paradigm supplies small hooks.

A trainer is plain Python: `run()` is a generator of events, so the CLI prints
them, a test collects them and the GUI's worker thread forwards them. `pause`,
`resume`, `stop` and `watch` may be called from any thread.

The base owns the skeleton (minGPT's `trainer.py` is the pattern): epochs of
batches, pause/stop polling, the NaN and divergence guards, the good-state
snapshot, activation capture, checkpoints, the recorded history and the
events. A paradigm says what one step is (`train_step`), how an epoch ends
(`end_epoch`) and how a run is judged (`final_metrics`). Three places are the
only ones where cross-cutting features attach: `prepare_model` (every network
is built through it), `forward` (every forward pass runs through it) and
`apply` (every optimizer update, the one `zero_grad` in the package).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.compiler import compile_network, network_report
from engine.data.defaults import with_dataset_defaults
from engine.diagnose import describe_crash
from engine.document import Document
from engine.errors import NetCanvasError
from engine.shapes import NetworkReport
from engine.training import distributed
from engine.training.capture import ActivationCapture
from engine.training.early_stop import EarlyStopping
from engine.training.events import (
    Activations,
    Checkpoint,
    Epoch,
    Event,
    Failed,
    Finished,
    Notice,
    Started,
    Step,
)
from engine.training.feeding import first_output
from engine.training.guards import Diverged, NonFiniteLoss, TrainingStopped, exploded
from engine.training.history import History
from engine.training.precision import Acceleration
from engine.training.schema import default
from engine.training.settings import value
from engine.training.setup import resolve_device, seed_everything
from engine.training.threads import CpuThreads

__all__ = ["Diverged", "NonFiniteLoss", "RunOptions", "StopRequested", "Trainer"]


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
    checkpoint_every: int = 1  # epochs, or episodes for RL
    precision: str | None = None  # fp32, bf16 or fp16; None: training.precision
    compile: bool | None = None  # torch.compile the networks; None: training.compile
    threads: int | None = None  # CPU threads; None: one for a small step, else torch's (threads.py)
    extra: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """The epoch loop; subclasses implement `setup`, `train_step`, `end_epoch`, `final_metrics`."""

    task = "base"
    guard_divergence = False  # a fixed-target loss (supervised, graph): explosion ends the run
    history_keys = ("epoch_train", "epoch_val")  # what end_epoch's (train, val) are recorded as
    autocast_applies = True  # False where updates are a rule on the weights, not gradients

    def __init__(self, doc: Document, options: RunOptions | None = None) -> None:
        self.doc = doc
        self.options = options or RunOptions()
        self.training = with_dataset_defaults(doc.training)  # unset epochs/lr: the dataset's
        self.seed = int(self.options.seed if self.options.seed is not None
                        else value(self.training, "seed"))
        self.device = torch.device("cpu")
        self.models: dict[str, nn.Module] = {}
        self.reports: dict[str, NetworkReport] = {}  # each built network's check report
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}  # stepped once per epoch, saved for resume
        self.metrics: dict[str, Any] = {}
        self.history = History()
        self.step = 0
        self.epoch = 0
        self.steps_per_epoch = 0
        self.stopped = False
        self.converged = False  # set by a paradigm whose algorithm has a natural end
        self.chance: float | None = None  # accuracy of guessing, where the task has one
        self.start_loss: float | None = None  # the run's first loss, for the divergence guard
        self._run_flag = threading.Event()
        self._run_flag.set()
        self._stop_flag = threading.Event()
        self.capture = ActivationCapture(self.options.watch, self.options.activation_interval)
        self._good_state: dict[str, dict[str, torch.Tensor]] = {}
        self._progress_start = 0
        self.generator = torch.Generator().manual_seed(self.seed)
        self.early_stopping: EarlyStopping | None = None  # set when a run used it
        self._failed_forward: tuple[nn.Module, tuple[torch.Tensor, ...], Exception] | None = None
        self._acceleration: Acceleration | None = None
        self.cpu_threads = CpuThreads(self.options.threads, adaptive=False)

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
        self.capture.want(node_ids)

    def checkpoint_controls(self) -> None:
        """Called between steps: waits while paused, raises StopRequested on stop."""
        if not self._run_flag.is_set():
            while not self._run_flag.wait(timeout=0.1):
                pass
        if self._stop_flag.is_set():
            raise StopRequested
        self.capture.refresh(self.models)

    # ---- the run --------------------------------------------------------------

    @property
    def total_epochs(self) -> int:
        return int(self.options.epochs if self.options.epochs is not None
                   else self.training.get("epochs", default("", "epochs")))  # 0 is a valid "just build"

    def run(self) -> Iterator[Event]:
        """Train, yielding events; always ends with Finished or Failed."""
        began = time.perf_counter()
        try:
            try:
                self.device = resolve_device(self.options.device or self.training.get("device"))
                self.generator = seed_everything(self.seed)
                self.cpu_threads = CpuThreads(self.options.threads, self._threads_adapt())
                with self.cpu_threads:
                    self.setup()
                    self._restore_resume_state()
                    self.capture.install(self.models)
                    yield self.started()
                    try:
                        yield from self.loop()
                    except StopRequested:
                        self.stopped = True  # a stopped run still reports how good its weights are
                    self.metrics = self.final_metrics()
                if self.early_stopping is not None:
                    self.metrics.update(self.early_stopping.summary())
            finally:
                self.capture.remove()
                self.teardown()
        except TrainingStopped as exc:
            self._restore_good_state(always=isinstance(exc, Diverged))
            self._publish_results()
            yield Failed(str(exc), exc.step, diverged=True)
            return
        except NetCanvasError as exc:
            yield Failed(str(exc), self.step)
            return
        except torch.cuda.OutOfMemoryError:
            yield Failed(f"the GPU ran out of memory at step {self.step}: lower batch_size", self.step)
            return
        except Exception as exc:  # noqa: BLE001 - any failure must reach the person as a message
            yield Failed(describe_crash(exc, self._failed_forward, self.models, self.doc),
                         self.step)
            return
        self._publish_results()
        yield Finished(dict(self.metrics), self.stopped, time.perf_counter() - began)

    def loop(self) -> Iterator[Event]:
        """Epochs of steps; the episodic trainer replaces this with episodes."""
        self.remember_good_state()
        early = EarlyStopping(self.training)
        for epoch in range(self.epoch, self.total_epochs):
            self.epoch = epoch
            self.begin_epoch()
            yield from self._epoch_steps(epoch)
            for scheduler in self.schedulers.values():
                scheduler.step()
            self.epoch = epoch + 1
            train, val = self.end_epoch()
            self.guard(train, val)
            for key, values in zip(self.history_keys, (train, val), strict=False):
                self.record(key, values)
            self.remember_good_state()
            stop = early.enabled and early.update(epoch + 1, val, self.models)
            self.converged = self.converged or stop
            yield Epoch(epoch + 1, train, val, 1.0 if self.converged else self.progress(epoch + 1))
            yield from self.epoch_ended(epoch + 1)
            yield from self.after_epoch()
            if self.converged:
                break
        if early.enabled:
            early.restore_best(self.models)
            self.weights_restored()
            self.early_stopping = early

    def _epoch_steps(self, epoch: int) -> Iterator[Event]:
        """One epoch's steps, one Step event each (the loop's hot path: keep it lean)."""
        total = max(self.total_epochs - self._progress_start, 1)
        per_step = 1.0 / (max(self.steps_per_epoch, 1) * total)
        done = (epoch - self._progress_start) / total
        for i, batch in enumerate(self.batches()):
            self.checkpoint_controls()
            began = time.perf_counter()
            loss, samples, losses = self.cpu_threads.first_step(self.train_step, batch) \
                if self.cpu_threads.sizing else self.train_step(batch)
            self.step += 1
            if self.start_loss is None:
                self.start_loss = loss
            rate = samples / max(time.perf_counter() - began, 1e-9)
            yield Step(self.step, epoch + 1, loss, self.learning_rate(), rate,
                       min(done + (i + 1) * per_step, 1.0), losses)
            if self.capture.captured:
                yield self.pop_activations()
            yield from self.after_step()

    def started(self) -> Started:
        return Started(
            self.task, str(self.device),
            {n: sum(p.numel() for p in m.parameters() if p.requires_grad)
             for n, m in self.models.items()},
            self.total_epochs, self.steps_per_epoch, self.epoch,
            tuple(self.acceleration.notes),
        )

    # ---- hooks a paradigm supplies -------------------------------------------------

    def setup(self) -> None:
        """Load data and build models and optimizers."""
        raise NotImplementedError

    def batches(self) -> Iterable[Any]:
        """This epoch's batches (shuffled by `self.generator`)."""
        raise NotImplementedError

    def train_step(self, batch: Any) -> tuple[float, int, dict[str, float]]:
        """One update: (the loss, samples seen, named losses for several networks or {})."""
        raise NotImplementedError

    def begin_epoch(self) -> None:
        """Before an epoch's first step (train mode, running sums)."""

    def end_epoch(self) -> tuple[dict[str, float], dict[str, float]]:
        """After an epoch's last step: its (train, val) metrics."""
        return {}, {}

    def after_step(self) -> Iterator[Event]:
        """Events to show after a step (samples every N steps); none by default."""
        return iter(())

    def after_epoch(self) -> Iterator[Event]:
        """Events to show after an epoch (samples, reconstructions); none by default."""
        return iter(())

    def final_metrics(self) -> dict[str, Any]:
        """Closing measurements (test accuracy, ...), also taken when a run is stopped."""
        return dict(self.metrics)

    def teardown(self) -> None:
        """Release what setup acquired (environments); runs however the run ended."""

    def learning_rate(self) -> float:
        """The rate Step events report: the first optimizer's (the generator's for a GAN)."""
        optimizer = next(iter(self.optimizers.values()), None)
        return optimizer.param_groups[0]["lr"] if optimizer is not None else 0.0

    def weights_restored(self) -> None:
        """Earlier weights were put back (early stopping): drop anything cached about them."""

    def extra_state(self) -> dict[str, Any]:
        """What else a resumed run needs to continue exactly (tensors, numbers, strings)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` saved."""

    # ---- the places cross-cutting features attach -----------------------------------

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Every network passes here once, on its device (DDP or torch.compile go here)."""
        model = distributed.wrap(model, self.device)  # DDP only when torchrun started several
        # torch.compile, last: the module stays as it is; `forward` runs its compiled form.
        return self.acceleration.prepare(model)

    def forward_context(self) -> contextlib.AbstractContextManager:
        """The context every training forward pass runs in (autocast goes here)."""
        return self.acceleration.autocast()

    def forward(self, model: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
        """The network's first output for `inputs`: the one place a forward pass runs.

        Compiled when --compile asked (eager while hooks capture activations); the
        output is float32 under bf16/fp16 autocast, so losses are computed in float32.
        """
        run = self.acceleration.runner(model, eager=self.capture.active)
        try:
            with self.forward_context():
                out = first_output(run(*inputs))
        except Exception as exc:
            self._failed_forward = (model, inputs, exc)  # for the crash description: which block
            raise
        return self.acceleration.output(out)

    @property
    def acceleration(self) -> Acceleration:
        """Precision and compilation for this run (engine/training/precision.py), made on first use."""
        if self._acceleration is None or self._acceleration.device != self.device:
            self._acceleration = Acceleration(
                str(self.options.precision or value(self.training, "precision")),
                bool(self.options.compile if self.options.compile is not None
                     else value(self.training, "compile")),
                self.device, self.autocast_applies, self.task)
        return self._acceleration

    def apply(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
              clip: float | None = None) -> float:
        """Check the loss, then zero, backpropagate, clip and step: every update goes here.

        The check comes first, so a NaN never reaches the weights.
        """
        value = self.check_loss(loss)
        optimizer.zero_grad(set_to_none=True)
        self.acceleration.update(loss, optimizer, clip)  # backward, clip, step (GradScaler: fp16)
        return value

    # ---- helpers for subclasses ----------------------------------------------------

    def build(self, name: str) -> nn.Module:
        """Compile network `name` onto the device; trained weights load when resuming."""
        model = compile_network(self.doc, name, trained=self.options.resume)
        self.reports[name] = network_report(model)  # shapes per node, checked once when compiled
        model = self.prepare_model(model.to(self.device))
        self.models[name] = model
        return model

    def load_data(self) -> Any:
        """The document's dataset; relative file paths are taken from the document's folder."""
        from engine.data import data_folder, load_dataset

        return load_dataset(self.training, self.seed, data_folder(self.doc))

    def check_loss(self, loss: torch.Tensor) -> float:
        """The loss as a float, raising NonFiniteLoss before a bad update is applied."""
        value = float(loss.detach())
        if not np.isfinite(value):
            raise NonFiniteLoss(self.step + 1, self.epoch + 1, value)
        return value

    def guard(self, train: dict[str, float], val: dict[str, float]) -> None:
        """End the run as diverged when the epoch's loss exploded (see guards.py)."""
        loss = train.get("loss")
        if not self.guard_divergence or loss is None or self.start_loss is None:
            return
        accuracy = val.get("accuracy", train.get("accuracy"))
        if exploded(loss, self.start_loss, accuracy, self.chance):
            why = f" (accuracy {accuracy:.3g})" if accuracy is not None else ""
            raise Diverged(self.step, self.epoch, loss, self.start_loss, why)

    def remember_good_state(self) -> None:
        """Snapshot weights known to be good; restored if the run later fails a guard."""
        for name, model in self.models.items():
            saved = self._good_state.get(name)
            if saved is None:
                self._good_state[name] = {k: v.detach().clone()
                                          for k, v in model.state_dict().items()}
                continue
            with torch.no_grad():  # copy into the snapshot: no allocation per epoch
                for key, value in model.state_dict().items():
                    saved[key].copy_(value)

    def progress(self, epoch_fraction: float) -> float:
        span = max(self.total_epochs - self._progress_start, 1)
        return min(max((epoch_fraction - self._progress_start) / span, 0.0), 1.0)

    def pop_activations(self) -> Activations | None:
        """The activations captured since the last call, at most once per interval."""
        return self.capture.pop(self.step)

    def epoch_ended(self, epoch: int) -> Iterator[Event]:
        """After each epoch (episode for RL): a Checkpoint bundle when the caller asked.

        Writing the bundle (atomically) mid-run means a crash or a power cut
        loses at most `checkpoint_every` epochs; the bundle resumes like any other.
        """
        while self.acceleration.pending:  # e.g. torch.compile fell back to eager
            yield Notice(self.step, self.acceleration.pending.pop(0))
        if self.cpu_threads.note:
            yield Notice(self.step, self.cpu_threads.note)
            self.cpu_threads.note = ""
        path, every = self.options.checkpoint_path, max(1, self.options.checkpoint_every)
        if path is None or epoch % every:
            return
        from engine.bundle import save_bundle  # the bundle module imports the trainers' peers

        self._publish_results()
        save_bundle(self.doc, None, path)
        yield Checkpoint(self.step, epoch, str(path))

    def record(self, key: str, value: Any) -> None:
        self.history.record(key, value)

    # ---- internals --------------------------------------------------------------

    def _threads_adapt(self) -> bool:
        """Whether the first step may size the thread count (threads.py): not where the CPU
        only feeds a GPU, the first step is compilation, or torchrun set each process's count."""
        return self.device.type == "cpu" and not self.acceleration.compile and not distributed.active()

    def _restore_resume_state(self) -> None:
        state = self.doc.train_state if self.options.resume else {}
        if not state:
            return
        for group, objects in (("optimizers", self.optimizers), ("schedulers", self.schedulers)):
            for name, thing in objects.items():
                saved = state.get(group, {}).get(name)
                if saved:
                    thing.load_state_dict(saved)
        self.step = int(state.get("step", 0))
        self.epoch = self._progress_start = int(state.get("epoch", 0))
        start = state.get("start_loss")
        self.start_loss = float(start) if start is not None else None
        rng = state.get("rng", {})
        if "shuffle" in rng:
            self.generator.set_state(rng["shuffle"])
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        self.history = History.from_dict(self.doc.metrics.get("history", {}))
        self.load_extra_state(state.get("extra", {}) or {})
        self.acceleration.load_state(state.get("scalers", {}) or {}, self.optimizers)

    def _restore_good_state(self, always: bool = False) -> None:
        """Back to the snapshot: always after divergence, else where weights are not finite."""
        for name, state in self._good_state.items():
            model = self.models[name]
            if always or not all(torch.isfinite(p).all() for p in model.parameters()):
                model.load_state_dict(state)

    def _publish_results(self) -> None:
        """Hand the trained state to the document: weights, metrics, resume state."""
        self.doc.weights = {
            name: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
            for name, m in self.models.items()
        }
        self.doc.metrics = {**self.metrics, "history": self.history.as_dict()}
        self.doc.train_state = {
            "task": self.task,
            "step": self.step,
            "epoch": self.epoch,
            "start_loss": self.start_loss,
            "optimizers": {n: _cpu_state(o.state_dict()) for n, o in self.optimizers.items()},
            "schedulers": {n: _cpu_state(s.state_dict()) for n, s in self.schedulers.items()},
            # Random states, so a resumed run continues exactly as an uninterrupted one.
            "rng": {"shuffle": self.generator.get_state(), "torch": torch.get_rng_state()},
            "extra": _cpu_state(self.extra_state()),
            "scalers": _cpu_state(self.acceleration.state(self.optimizers)),  # fp16's GradScalers
        }


def _cpu_state(state: Any) -> Any:
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {k: _cpu_state(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_cpu_state(v) for v in state]
    return copy.deepcopy(state)
