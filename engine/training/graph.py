"""Semi-supervised node classification: the whole graph goes through the network at once.

A graph dataset is one sample: every node is seen at every step (its neighbours
are what a GraphConv mixes in), and only the labels under the train mask enter
the loss. So one step is one epoch, and accuracy is measured per mask.
"""

from __future__ import annotations

import torch

from engine.data import GraphDataset
from engine.errors import NetCanvasError
from engine.training import distributed
from engine.training.base import Trainer
from engine.training.feeding import check_sources, input_sources, to_tensor
from engine.training.metrics import classification_report
from engine.training.settings import value
from engine.training.setup import make_loss, make_optimizer, make_scheduler

GRAPH_LOSSES = ("cross_entropy", "nll")


class NodeClassificationTrainer(Trainer):
    """Full-graph gradient descent with the loss on the labelled (train) nodes only."""

    task = "node_classification"
    guard_divergence = True

    def setup(self) -> None:
        data = self.load_data()
        if not isinstance(data, GraphDataset):
            raise NetCanvasError(
                f"node classification needs a graph dataset (e.g. 'karate', 'cora'); "
                f"'{getattr(data, 'name', '?')}' is not one")
        self.data = data
        self.model = self.build("main")
        self.sources = input_sources(self.doc, "main", self.model)
        check_sources(self.sources, {"adjacency", "features"}, "main")
        self.loss_name = value(self.training, "loss")
        if self.loss_name not in GRAPH_LOSSES:
            raise NetCanvasError(
                f"training.loss: node classification predicts classes; use cross_entropy "
                f"(raw scores) or nll (after LogSoftmax), not '{self.loss_name}'")
        self.loss_fn = make_loss(self.loss_name)
        self.optimizer = make_optimizer(self.training.get("optimizer"), self.model.parameters())
        self.optimizers = {"main": self.optimizer}
        scheduler = make_scheduler(self.training.get("lr_schedule"), self.optimizer,
                                   self.total_epochs)
        self.schedulers = {"main": scheduler} if scheduler is not None else {}
        fields = {"adjacency": data.adjacency, "features": data.features}
        # Full-batch: the whole graph is on the device, however large (to_tensor keeps
        # data over 1 GiB on the host for batched trainers).
        self.inputs = [to_tensor(fields[s], self.device).float().to(self.device)
                       for s in self.sources]
        self.labels = to_tensor(data.labels, self.device).long().to(self.device)  # (V,)
        self.masks = {k: to_tensor(v, self.device).bool().to(self.device)
                      for k, v in data.masks.items()}
        if not bool(self.masks["train"].any()):
            raise NetCanvasError(f"dataset '{data.name}' has no labelled (train) nodes")
        self.labelled = int(self.masks["train"].sum())
        self.train_nodes = self._train_share()
        self.steps_per_epoch = 1
        self.chance = 1.0 / max(data.num_classes, 1)

    def _train_share(self) -> torch.Tensor:
        """The train mask; under torchrun this rank's share of the labelled nodes.

        A graph is one sample, so every rank runs the whole graph forward and the
        loss is split by labelled node, weighted so DDP's average is the full loss.
        """
        mask = self.masks["train"]
        if not distributed.active():
            return mask
        nodes = distributed.shard(mask.nonzero().squeeze(1))
        if len(nodes) == 0:
            raise NetCanvasError(
                f"dataset '{self.data.name}' has {int(mask.sum())} labelled nodes, fewer than "
                f"the {distributed.world_size()} processes: train it on fewer processes")
        return nodes

    def forward_graph(self) -> torch.Tensor:
        # Evaluation runs the network itself: no DDP collectives outside training steps.
        model = self.model if self.model.training else distributed.unwrap(self.model)
        out = self.forward(model, *self.inputs)  # (V, C)
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

    # ---- the loop's hooks ------------------------------------------------------

    def batches(self) -> list[None]:
        return [None]  # the whole graph is the one sample of every step

    def train_step(self, batch: None) -> tuple[float, int, dict[str, float]]:
        self.model.train()
        out = self.forward_graph()
        nodes, labelled = self.train_nodes, self.labelled
        share = labelled if nodes.dtype == torch.bool else len(nodes)
        weight = distributed.loss_weight(share, labelled)
        value = distributed.weighted_step(
            self.apply, self.loss_fn(out[nodes], self.labels[nodes]), weight, self.optimizer)
        if distributed.active():  # the loss over all labelled nodes, not this rank's share
            value = distributed.reduce_sums({"loss": value * share})["loss"] / labelled
        self.last = value, out.detach()
        return value, len(self.labels), {}

    def end_epoch(self) -> tuple[dict[str, float], dict[str, float]]:
        value, out = self.last
        return {"loss": value, "accuracy": self._accuracy(out, "train")}, self.evaluate("val")

    # ---- evaluation ------------------------------------------------------------

    def _accuracy(self, out: torch.Tensor, split: str) -> float:
        mask = self.masks.get(split)
        if mask is None or not bool(mask.any()):
            return float("nan")
        return float((out[mask].argmax(-1) == self.labels[mask]).float().mean())

    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        self.model.eval()
        out = self.forward_graph()
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
            predicted = self.forward_graph()[mask].argmax(-1)
            names = [str(n) for n in self.data.class_names] if self.data.class_names else None
            metrics.update(classification_report(
                predicted.cpu().numpy(), self.labels[mask].cpu().numpy(), self.data.num_classes,
                names))
        return metrics
