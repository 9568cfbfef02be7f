"""Semi-supervised node classification: the whole graph goes through the network at once.

A graph dataset is one sample: every node is seen at every step (its neighbours
are what a GraphConv mixes in), and only the labels under the train mask enter
the loss. So one step is one epoch, and accuracy is measured per mask.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch

from engine.data import GraphDataset, load_dataset
from engine.errors import NetCanvasError
from engine.training.base import Trainer
from engine.training.events import Epoch, Event, Step
from engine.training.feeding import check_sources, first_output, input_sources, to_tensor
from engine.training.metrics import classification_report
from engine.training.setup import make_loss, make_optimizer, make_scheduler

GRAPH_LOSSES = ("cross_entropy", "nll")


class NodeClassificationTrainer(Trainer):
    """Full-graph gradient descent with the loss on the labelled (train) nodes only."""

    task = "node_classification"

    def setup(self) -> None:
        data = load_dataset(self.training, self.seed)
        if not isinstance(data, GraphDataset):
            raise NetCanvasError(
                f"node classification needs a graph dataset (e.g. 'karate', 'cora'); "
                f"'{getattr(data, 'name', '?')}' is not one")
        self.data = data
        self.model = self.build("main")
        self.sources = input_sources(self.doc, "main", self.model)
        check_sources(self.sources, {"adjacency", "features"}, "main")
        self.loss_name = self.training.get("loss", "cross_entropy")
        if self.loss_name not in GRAPH_LOSSES:
            raise NetCanvasError(
                f"training.loss: node classification predicts classes; use cross_entropy "
                f"(raw scores) or nll (after LogSoftmax), not '{self.loss_name}'")
        self.loss_fn = make_loss(self.loss_name)
        self.optimizer = make_optimizer(self.training.get("optimizer"), self.model.parameters())
        self.optimizers = {"main": self.optimizer}
        self.scheduler = make_scheduler(self.training.get("lr_schedule"), self.optimizer,
                                        self.total_epochs)
        fields = {"adjacency": data.adjacency, "features": data.features}
        self.inputs = [to_tensor(fields[s], self.device).float() for s in self.sources]
        self.labels = to_tensor(data.labels, self.device).long()  # (V,)
        self.masks = {k: to_tensor(v, self.device).bool() for k, v in data.masks.items()}
        if not bool(self.masks["train"].any()):
            raise NetCanvasError(f"dataset '{data.name}' has no labelled (train) nodes")
        self.steps_per_epoch = 1

    def forward(self) -> torch.Tensor:
        out = first_output(self.model(*self.inputs))  # (V, C)
        if out.dim() != 2 or out.shape[0] != len(self.labels):
            raise NetCanvasError(
                f"the network outputs {tuple(out.shape)} but the graph has {len(self.labels)} "
                f"nodes: the last layer should give one row of {self.data.num_classes} class "
                "scores per node")
        if out.shape[1] != self.data.num_classes:
            raise NetCanvasError(
                f"the network gives {out.shape[1]} scores per node but the dataset has "
                f"{self.data.num_classes} classes: set the last layer's out_features to "
                f"{self.data.num_classes}")
        return out

    # ---- the loop --------------------------------------------------------------

    def train(self) -> Iterator[Event]:
        train_mask = self.masks["train"]
        self.remember_good_state()
        for epoch in range(self.epoch, self.total_epochs):
            self.checkpoint_controls()
            self.epoch = epoch
            began = time.perf_counter()
            self.model.train()
            out = self.forward()
            loss = self.loss_fn(out[train_mask], self.labels[train_mask])
            value = self.check_loss(loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            self.step += 1
            self.epoch = epoch + 1
            rate = len(self.labels) / max(time.perf_counter() - began, 1e-9)
            yield Step(self.step, epoch + 1, value, self.optimizer.param_groups[0]["lr"], rate,
                       self.progress(epoch + 1))
            if (activations := self.pop_activations()) is not None:
                yield activations
            train = {"loss": value, "accuracy": self._accuracy(out.detach(), "train")}
            val = self.evaluate("val")
            self.record("epoch_train", train)
            self.record("epoch_val", val)
            self.remember_good_state()
            yield Epoch(epoch + 1, train, val, self.progress(epoch + 1))
            yield from self.epoch_ended(epoch + 1)

    # ---- evaluation ------------------------------------------------------------

    def _accuracy(self, out: torch.Tensor, split: str) -> float:
        mask = self.masks.get(split)
        if mask is None or not bool(mask.any()):
            return float("nan")
        return float((out[mask].argmax(-1) == self.labels[mask]).float().mean())

    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        self.model.eval()
        out = self.forward()
        mask = self.masks.get(split)
        if mask is None or not bool(mask.any()):
            return {}
        return {"loss": float(self.loss_fn(out[mask], self.labels[mask])),
                "accuracy": self._accuracy(out, split)}

    @torch.no_grad()
    def final_metrics(self) -> dict:
        metrics = {f"{split}_{k}": v for split in ("train", "val", "test")
                   for k, v in self.evaluate(split).items()}
        mask = self.masks.get("test")
        if mask is not None and bool(mask.any()):
            predicted = self.forward()[mask].argmax(-1)
            names = [str(n) for n in self.data.class_names] if self.data.class_names else None
            metrics.update(classification_report(
                predicted.cpu().numpy(), self.labels[mask].cpu().numpy(), self.data.num_classes,
                names))
        return metrics
