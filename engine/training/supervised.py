"""Mini-batch gradient descent on arrays: classification, regression, sequences, autoencoders.

The four tasks share one loop and differ only in the target and the metrics,
so they are one trainer with a `Task` object (tasks.py) rather than four copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from engine.data import ArrayDataset, streaming
from engine.data.streaming import LazyRows, batch_loader
from engine.errors import NetCanvasError
from engine.training import distributed
from engine.training.augment import check_augment, random_shift
from engine.training.base import Trainer
from engine.training.events import Event, Samples
from engine.training.feeding import batches, check_sources, input_sources, to_tensor
from engine.training.settings import value
from engine.training.setup import make_loss, make_optimizer, make_scheduler
from engine.training.tasks import TASKS, matches, readout


class SupervisedTrainer(Trainer):
    """classification, regression, sequence (per-step targets) and autoencoder."""

    guard_divergence = True

    def __init__(self, doc, options=None, task: str = "classification") -> None:
        super().__init__(doc, options)
        self.task = task
        self.kind = TASKS[task]

    def setup(self) -> None:
        data = self.load_data()
        if not isinstance(data, ArrayDataset):
            raise NetCanvasError(
                f"task '{self.task}' needs an array dataset; '{data.name}' is not one"
            )
        self.data = data
        self.model = self.build("main")
        self.sources = input_sources(self.doc, "main", self.model)
        check_sources(self.sources, {"x"}, "main")
        self.loss_name = self.training.get("loss", self.kind.default_loss)
        self.loss_fn = make_loss(self.loss_name)
        self.read = readout(self.loss_name)
        self.optimizer = make_optimizer(self.training.get("optimizer"), self.model.parameters())
        self.optimizers = {"main": self.optimizer}
        scheduler = make_scheduler(self.training.get("lr_schedule"), self.optimizer,
                                   self.total_epochs)
        self.schedulers = {"main": scheduler} if scheduler is not None else {}
        self.splits = {k: torch.from_numpy(v).long() for k, v in data.splits.items()}
        self.batch_size = value(self.training, "batch_size")
        self.shift = check_augment(self.training.get("augment")).get("shift", 0)
        self.streamed = isinstance(data.x, LazyRows)  # see engine/data/streaming.py
        self.x = data.x if self.streamed else to_tensor(data.x, self.device)
        self.y = None  # a streamed autoencoder's target is its batch, read with it
        if not (self.streamed and self.kind.target_field == "x"):
            self.y = to_tensor(self.kind.target(data), self.device)
            self.y = self.y if self.read.class_targets else self.y.float()
        if self.streamed:
            self.loader = batch_loader(data.x, self.requests, streaming.workers(self.training),
                                       self.device.type == "cuda")
        self.steps_per_epoch = max(1, -(-len(self.splits["train"]) // self.batch_size))
        self.chance = self.kind.chance(data, self.read)
        self.counts_correct = self.kind.train_accuracy and self.read.kind != "values"
        self._evaluated: dict[str, tuple[int, dict[str, float]]] = {}  # split -> (step, metrics)

    # ---- the loop's hooks ------------------------------------------------------

    def begin_epoch(self) -> None:
        self.model.train()
        # On the device, read once per epoch: a per-step float() would wait for the step.
        self.totals = {"loss": 0.0, "count": 0, "items": 0,
                       "correct": torch.zeros((), dtype=torch.long, device=self.device)}

    def batches(self) -> Iterable[Any]:
        if self.streamed:  # the same index batches, read from disk by the loader
            return self.loader
        return batches(self.splits["train"], self.batch_size, self.generator)

    def requests(self) -> Iterator[tuple[int, torch.Tensor]]:
        """What the streaming loader reads: (global batch size, the indices this rank needs)."""
        for idx in batches(self.splits["train"], self.batch_size, self.generator):
            yield len(idx), idx if self.shift else idx[distributed.share(len(idx))[0]]

    def fetch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, int, float]:
        """This rank's (inputs, targets, samples, loss weight) of a global batch.

        In memory `batch` is the global index batch; streamed it is what the
        loader read: (global size, the indices read, their rows).
        """
        count, idx, xb = batch if self.streamed else (len(batch), batch, None)
        rows, weight, n = distributed.share(count)
        local = idx if self.streamed and not self.shift else idx[rows]
        if xb is None:
            xb = self.x[idx if self.shift else local]
        xb = xb.to(self.device, non_blocking=True)
        if self.shift:  # shifted as a whole, so every rank's generator stays in step
            xb = random_shift(xb, self.shift, self.generator)[rows]
        if self.kind.target_field == "x" and (self.shift or self.streamed):
            return xb, xb, n, weight
        return xb, self.y[local].to(self.device), n, weight

    def train_step(self, batch: Any) -> tuple[float, int, dict[str, float]]:
        # Under torchrun this rank trains on its rows of the global batch only.
        xb, yb, n, weight = self.fetch(batch)
        out = self.forward(self.model, xb)
        value = distributed.weighted_step(self.apply, self.compute_loss(out, yb), weight,
                                          self.optimizer)
        totals = self.totals
        totals["loss"] += value * n
        totals["count"] += n
        if self.counts_correct and n:
            predicted = self.read.predict(out.detach())
            totals["correct"] += matches(predicted, yb).sum()
            totals["items"] += predicted.numel()
        return value, n, {}

    def end_epoch(self) -> tuple[dict[str, float], dict[str, float]]:
        totals = distributed.reduce_sums(self.totals)  # all ranks' samples, on one process its own
        train = {"loss": totals["loss"] / max(totals["count"], 1)}
        if self.counts_correct:
            train["accuracy"] = totals["correct"] / max(totals["items"], 1)
        return train, self.evaluate("val")

    def after_epoch(self) -> Iterator[Event]:
        if self.kind.shows == "reconstruction":
            yield self.reconstructions()

    def compute_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.read.class_targets and out.dim() > 2:  # (N, T, V) per-step classes
            return self.loss_fn(out.reshape(-1, out.shape[-1]), target.reshape(-1))
        if not self.read.class_targets and target.shape != out.shape:
            if target.numel() != out.numel():
                raise NetCanvasError(
                    f"the network outputs {tuple(out.shape[1:])} per sample but the targets are "
                    f"{tuple(target.shape[1:])}: change the last layer's width"
                )
            target = target.reshape(out.shape)
        return self.loss_fn(out, target)

    # ---- evaluation ------------------------------------------------------------

    @torch.no_grad()
    def outputs(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.eval()
        idx = self.splits.get(split)
        if idx is None or len(idx) == 0:
            idx = self.splits["train"]
        model, mine = distributed.unwrap(self.model), distributed.shard(idx)
        if not len(mine):  # this rank's share is empty: no rows, but the right shape to gather
            mine, keep = idx[:1], 0
        else:
            keep = len(mine)
        size = self.batch_size if self.streamed else max(self.batch_size, 256)
        outs, inputs = [], []
        for xb in self.read_rows(batches(mine, size, None)):
            outs.append(self.forward(model, xb))
            if self.y is None:
                inputs.append(xb)
        out = distributed.gather_rows(torch.cat(outs)[:keep])
        if self.y is None:  # a streamed autoencoder: the inputs read are the targets
            return out, distributed.gather_rows(torch.cat(inputs)[:keep])
        return out, self.y[idx].to(self.device)

    def read_rows(self, index_batches: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """The inputs of each index batch, on the device: indexed in memory, or streamed."""
        if not self.streamed:
            yield from (self.x[b].to(self.device) for b in index_batches)
            return
        requests = [(len(b), b) for b in index_batches]
        loader = batch_loader(self.x, lambda: requests, 0, False)
        yield from (xb.to(self.device) for _, _, xb in loader)

    def weights_restored(self) -> None:
        self._evaluated.clear()

    def evaluate(self, split: str, outputs: tuple | None = None) -> dict[str, float]:
        """A split's loss and metrics; the same weights are evaluated only once."""
        if self._evaluated.get(split, (None,))[0] == self.step:
            return self._evaluated[split][1]
        out, target = outputs or self.outputs(split)
        metrics = {"loss": float(self.compute_loss(out, target)),
                   **self.kind.metrics(out, target, self.read)}
        self._evaluated[split] = (self.step, metrics)
        return metrics

    def final_metrics(self) -> dict:
        out, target = self.outputs("test")
        metrics = {f"test_{k}": v for k, v in self.evaluate("test", (out, target)).items()}
        metrics.update({f"val_{k}": v for k, v in self.evaluate("val").items()})
        # The test inputs, for a series' naive baseline; not read again from disk when streamed.
        x_test = torch.empty(0) if self.streamed else self.x[self.splits["test"]]
        metrics.update(self.kind.final(out, target, self.read, self.data, x_test, metrics))
        return metrics

    @torch.no_grad()
    def reconstructions(self, count: int = 8) -> Samples:
        originals = next(self.read_rows([self.splits["test"][:count]]))
        self.model.eval()
        rebuilt = self.forward(distributed.unwrap(self.model), originals).reshape(originals.shape)
        return Samples(self.step, "reconstruction", rebuilt.float().cpu().numpy().copy(),
                       originals.float().cpu().numpy().copy())
