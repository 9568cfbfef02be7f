"""Activations of the nodes a person watches, captured by forward hooks, throttled.

Only watched nodes carry a hook, so an unwatched model runs with none; the
wish to watch may change from any thread, and the hooks move between steps
on the training thread. A capture is at most one per `interval` seconds and
holds the first sample's activation as a numpy copy, safe to cross threads;
for a graph attention layer, its attention per edge instead (`EdgeAttention`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.training.events import Activations
from engine.training.graph_attention import EdgeAttention, edge_attention


class ActivationCapture:
    def __init__(self, watch: Iterable[str], interval: float) -> None:
        self.wanted: set[str] = set(watch)
        self.interval = interval
        self.captured: dict[str, np.ndarray | EdgeAttention] = {}
        self._due = 0.0
        self._handles: list[Any] = []
        self._hooked: set[str] | None = None  # the wish the hooks were made for
        self._hooked_ids: set[str] = set()  # the watched ids that exist in a model

    def want(self, node_ids: Iterable[str]) -> None:
        """Any thread: these nodes from now on (replaces the previous set)."""
        self.wanted = set(node_ids)

    def refresh(self, models: Mapping[str, nn.Module]) -> None:
        """Training thread, between steps: move the hooks if the wish changed."""
        if self.wanted != self._hooked:
            self.install(models)

    def install(self, models: Mapping[str, nn.Module]) -> None:
        """Hook exactly the watched nodes' submodules (named by node id, `class` -> `class_`)."""
        self.remove()
        watched = set(self.wanted)
        for model in models.values():
            for node_id, attribute in getattr(model, "meta", {}).get("submodules", {}).items():
                if node_id in watched:
                    module = model.get_submodule(attribute)
                    self._handles.append(module.register_forward_hook(self._hook(node_id)))
                    self._hooked_ids.add(node_id)
        self._hooked = watched

    @property
    def active(self) -> bool:
        """Whether hooks are installed: a compiled forward would bypass them, so run eager."""
        return bool(self._handles)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self._hooked_ids, self._hooked = [], set(), None

    def pop(self, step: int) -> Activations | None:
        """What was captured since the last call, or None."""
        if not self.captured:
            return None
        event = Activations(step, self.captured)
        self.captured = {}
        return event

    def _hook(self, node_id: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if node_id not in self.wanted or time.monotonic() < self._due:
                return
            kept = getattr(module, "last_attention", None)
            if isinstance(kept, tuple) and isinstance(output, torch.Tensor):  # GATConv: the edges
                self.captured[node_id] = edge_attention(kept, nodes=output.shape[-2])
            else:
                self._keep_output(node_id, output)
            if set(self.captured) >= self._hooked_ids:
                self._due = time.monotonic() + self.interval

        return hook

    def _keep_output(self, node_id: str, output: Any) -> None:
        """The first sample of the output (the attention map, for attention blocks)."""
        value = output
        if isinstance(value, tuple):  # attention gives (out, weights); prefer the map
            value = value[1] if len(value) > 1 and isinstance(value[1], torch.Tensor) else value[0]
            if isinstance(value, tuple):
                value = value[0]
        if isinstance(value, torch.Tensor):
            first = value[0] if value.dim() > 1 else value
            self.captured[node_id] = first.detach().float().cpu().numpy().copy()
