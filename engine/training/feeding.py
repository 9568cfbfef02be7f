"""Which dataset field feeds which `Input`, and batching arrays on a device."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import fx

from engine.document import Document
from engine.errors import NetCanvasError

# Datasets up to this size live on the training device for the whole run.
ON_DEVICE_LIMIT = 1 << 30


def input_sources(doc: Document, network: str, model: fx.GraphModule) -> list[str]:
    """The dataset field of each placeholder, in the order the model takes them."""
    nodes = doc.network(network).nodes
    return [nodes[node_id].resolved_params()["source"] for node_id in model.meta["inputs"]]


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dtype == torch.float64:
        tensor = tensor.float()
    if tensor.numel() * tensor.element_size() <= ON_DEVICE_LIMIT:
        tensor = tensor.to(device)
    return tensor


def first_output(result):
    """A network with several Outputs returns a tuple: the first is the prediction."""
    return result[0] if isinstance(result, tuple) else result


def batches(indices: torch.Tensor, batch_size: int, generator: torch.Generator | None,
            ) -> Iterator[torch.Tensor]:
    """Index batches over `indices`, shuffled by `generator` (None keeps the order)."""
    order = indices[torch.randperm(len(indices), generator=generator)] if generator else indices
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def check_sources(sources: list[str], available: set[str], network: str) -> None:
    missing = [s for s in sources if s not in available]
    if missing:
        raise NetCanvasError(
            f"network '{network}': Input source '{missing[0]}' is not provided by the dataset "
            f"(it provides: {', '.join(sorted(available))})"
        )
