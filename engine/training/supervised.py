"""Mini-batch gradient descent on arrays: classification, regression, sequences, autoencoders.

The four tasks share one loop and differ only in the target and the metrics,
so they are one trainer with a `task` switch rather than four copies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch

from engine.data import ArrayDataset, load_dataset
from engine.errors import NetCanvasError
from engine.training.augment import check_augment, random_shift
from engine.training.base import Trainer
from engine.training.events import Epoch, Event, Samples, Step
from engine.training.feeding import batches, check_sources, first_output, input_sources, to_tensor
from engine.training.metrics import classification_report, regression_metrics
from engine.training.setup import make_loss, make_optimizer, make_scheduler

CLASS_LOSSES = ("cross_entropy", "nll")
BINARY_LOSSES = ("bce", "bce_logits")


class SupervisedTrainer(Trainer):
    """classification, regression, sequence (per-step targets) and autoencoder."""

    def __init__(self, doc, options=None, task: str = "classification") -> None:
        super().__init__(doc, options)
        self.task = task

    def setup(self) -> None:
        data = load_dataset(self.training, self.seed)
        if not isinstance(data, ArrayDataset):
            raise NetCanvasError(
                f"task '{self.task}' needs an array dataset; '{data.name}' is not one"
            )
        self.data = data
        self.model = self.build("main")
        self.sources = input_sources(self.doc, "main", self.model)
        check_sources(self.sources, {"x"}, "main")
        default_loss = {"classification": "cross_entropy", "sequence": "cross_entropy"}.get(
            self.task, "mse")
        self.loss_name = self.training.get("loss", default_loss)
        self.loss_fn = make_loss(self.loss_name)
        self.optimizer = make_optimizer(self.training.get("optimizer"), self.model.parameters())
        self.optimizers = {"main": self.optimizer}
        self.scheduler = make_scheduler(self.training.get("lr_schedule"), self.optimizer,
                                        self.total_epochs)
        self.x = to_tensor(data.x, self.device)
        target = data.x if self.task == "autoencoder" else data.y
        if target is None:
            raise NetCanvasError(f"dataset '{data.name}' has no targets for task '{self.task}'")
        self.y = to_tensor(target, self.device)
        if self.loss_name not in CLASS_LOSSES:
            self.y = self.y.float()
        self.splits = {k: torch.from_numpy(v).long() for k, v in data.splits.items()}
        self.batch_size = int(self.training.get("batch_size", 64))
        self.shift = check_augment(self.training.get("augment")).get("shift", 0)
        self.steps_per_epoch = max(1, -(-len(self.splits["train"]) // self.batch_size))

    # ---- the loop --------------------------------------------------------------

    def train(self) -> Iterator[Event]:
        train_idx = self.splits["train"]
        steps_per_epoch = self.steps_per_epoch
        start = self.epoch
        self.remember_good_state()
        for epoch in range(start, self.total_epochs):
            self.epoch = epoch
            self.model.train()
            totals = {"loss": 0.0, "correct": 0.0, "count": 0, "count_items": 0}
            for i, idx in enumerate(batches(train_idx, self.batch_size, self.generator)):
                self.checkpoint_controls()
                began = time.perf_counter()
                xb, yb = self.x[idx].to(self.device), self.y[idx].to(self.device)
                if self.shift:
                    xb = random_shift(xb, self.shift, self.generator)
                    if self.task == "autoencoder":
                        yb = xb
                out = first_output(self.model(xb))
                loss = self.compute_loss(out, yb)
                value = self.check_loss(loss)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.step += 1
                self._accumulate(totals, out.detach(), yb, value)
                rate = len(idx) / max(time.perf_counter() - began, 1e-9)
                yield Step(self.step, epoch + 1, value, self.optimizer.param_groups[0]["lr"],
                           rate, self.progress(epoch + (i + 1) / steps_per_epoch))
                if (activations := self.pop_activations()) is not None:
                    yield activations
            if self.scheduler is not None:
                self.scheduler.step()
            train = {"loss": totals["loss"] / max(totals["count"], 1)}
            if self.task in ("classification", "sequence") and self.loss_name in CLASS_LOSSES + BINARY_LOSSES:
                train["accuracy"] = totals["correct"] / max(totals["count_items"], 1)
            val = self.evaluate("val")
            self.epoch = epoch + 1
            self.record("epoch_train", train)
            self.record("epoch_val", val)
            self.remember_good_state()
            yield Epoch(epoch + 1, train, val, self.progress(epoch + 1))
            yield from self.epoch_ended(epoch + 1)
            if self.task == "autoencoder":
                yield self.reconstructions()

    def compute_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss_name in CLASS_LOSSES and out.dim() > 2:  # (N, T, V) per-step classes
            return self.loss_fn(out.reshape(-1, out.shape[-1]), target.reshape(-1))
        if self.loss_name not in CLASS_LOSSES and target.shape != out.shape:
            if target.numel() != out.numel():
                raise NetCanvasError(
                    f"the network outputs {tuple(out.shape[1:])} per sample but the targets are "
                    f"{tuple(target.shape[1:])}: change the last layer's width"
                )
            target = target.reshape(out.shape)
        return self.loss_fn(out, target)

    def _accumulate(self, totals: dict, out: torch.Tensor, target: torch.Tensor, loss: float):
        totals["loss"] += loss * len(out)
        totals["count"] += len(out)
        if self.task in ("classification", "sequence"):
            predicted = self.predict(out)
            if predicted is not None:
                totals["correct"] += float(
                    (predicted == target.reshape(predicted.shape).long()).sum())
                totals["count_items"] += predicted.numel()

    def predict(self, out: torch.Tensor) -> torch.Tensor | None:
        """Class ids from the network's output, or None for real-valued outputs."""
        if self.loss_name in CLASS_LOSSES:
            return out.argmax(-1)
        if self.loss_name in BINARY_LOSSES:
            threshold = 0.0 if self.loss_name == "bce_logits" else 0.5
            return (out > threshold).long()
        return None

    # ---- evaluation ------------------------------------------------------------

    @torch.no_grad()
    def outputs(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.eval()
        idx = self.splits.get(split)
        if idx is None or len(idx) == 0:
            idx = self.splits["train"]
        outs = [first_output(self.model(self.x[b].to(self.device)))
                for b in batches(idx, max(self.batch_size, 256), None)]
        return torch.cat(outs), self.y[idx].to(self.device)

    def evaluate(self, split: str) -> dict[str, float]:
        out, target = self.outputs(split)
        metrics = {"loss": float(self.compute_loss(out, target))}
        predicted = self.predict(out)
        if predicted is not None:
            metrics["accuracy"] = float((predicted == target.reshape(predicted.shape).long())
                                        .float().mean())
        elif self.task in ("regression", "sequence", "autoencoder"):
            metrics.update(regression_metrics(out, target.reshape(out.shape)))
        return metrics

    def final_metrics(self) -> dict:
        metrics = {f"test_{k}": v for k, v in self.evaluate("test").items()}
        metrics.update({f"val_{k}": v for k, v in self.evaluate("val").items()})
        out, target = self.outputs("test")
        predicted = self.predict(out)
        if self.task == "classification" and predicted is not None and self.data.num_classes:
            metrics.update(classification_report(
                predicted.reshape(-1).cpu().numpy(), target.reshape(-1).long().cpu().numpy(),
                self.data.num_classes, self.data.class_names))
        if self.task == "sequence" and predicted is not None and predicted.dim() > 1:
            matches = predicted == target.reshape(predicted.shape).long()
            metrics["test_sequence_accuracy"] = float(matches.all(dim=-1).float().mean())
        x_test = self.x[self.splits["test"]]
        if self.task == "regression" and x_test.dim() == 3 and self.y.dim() == 2:
            naive = x_test[:, -1, : self.y.shape[-1]].to(self.device)
            metrics["test_naive_mse"] = float(((naive - target.reshape(naive.shape)) ** 2).mean())
            # How many times better than "the next value equals the last one".
            metrics["test_naive_ratio"] = metrics["test_naive_mse"] / max(metrics["test_mse"], 1e-12)
        return metrics

    @torch.no_grad()
    def reconstructions(self, count: int = 8) -> Samples:
        idx = self.splits["test"][:count]
        originals = self.x[idx].to(self.device)
        self.model.eval()
        rebuilt = first_output(self.model(originals)).reshape(originals.shape)
        return Samples(self.step, "reconstruction", rebuilt.float().cpu().numpy().copy(),
                       originals.float().cpu().numpy().copy())

