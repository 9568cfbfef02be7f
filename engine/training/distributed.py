"""One run on several processes (torchrun): DistributedDataParallel, sharded batches, reduced metrics.

`netcanvas train FILE --nproc-per-node N` starts torchrun (launch.py), and
torchrun starts `python -m engine.training.distributed FILE ...` once per
process; a cluster's own launcher (`srun torchrun ...`, a Kubernetes
PyTorchJob) can start this module directly. Every process trains the same
document with the same seed, so every process draws the same shuffled order;
each global batch of `batch_size` samples is split across the ranks (sizes
differ by at most one), and each rank's loss is weighted by its share, so
DDP's gradient average is exactly the gradient of the whole global batch: a
2-process run follows the 1-process run's loss curve to float rounding.

Rank 0 alone prints progress and writes the bundle and run record; the other
ranks train silently. Without `torch.distributed` initialised every helper
here is the identity, so a one-process run is byte-identical to before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.errors import NetCanvasError
from engine.training.settings import value

# Tasks whose trainer shards its data and reduces its metrics (see docs/scale.md).
DISTRIBUTED_TASKS = ("classification", "regression", "sequence", "autoencoder",
                     "node_classification")
NOT_DISTRIBUTED = {
    "gan": "a GAN's two networks alternate updates that DDP cannot split; train it on one process",
    "dqn": "an RL agent learns from its own environment's episodes; train it on one process",
    "q_learning": "tabular Q-learning has no network to replicate; train it on one process",
    "perceptron": "the perceptron rule updates one sample at a time; train it on one process",
}


def active() -> bool:
    """True inside a run of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def check_task(task: str) -> None:
    """Refuse, with the reason, a task whose trainer does not distribute."""
    if task in DISTRIBUTED_TASKS:
        return
    why = NOT_DISTRIBUTED.get(task, "its trainer does not shard its data")
    raise NetCanvasError(f"training.task '{task}' cannot run on several processes: {why}")


class ReplicatedModel(DistributedDataParallel):
    """DDP that saves, loads and hooks like the network it wraps (no `module.` prefixes)."""

    @property
    def meta(self) -> dict:
        return self.module.meta

    def state_dict(self, *args, **kwargs):  # noqa: ANN201 - nn.Module's own signature
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, *args, **kwargs):  # noqa: ANN201
        return self.module.load_state_dict(*args, **kwargs)

    def get_submodule(self, target: str) -> nn.Module:
        return self.module.get_submodule(target)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model in DDP when several processes run, else unchanged (called by prepare_model)."""
    if not active() or not any(p.requires_grad for p in model.parameters()):
        return model
    ids = [device.index] if device.type == "cuda" and device.index is not None else None
    return ReplicatedModel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The network itself: evaluation runs it without DDP's collectives."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard(indices: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous share of `indices` (all of them on one process)."""
    if not active():
        return indices
    return torch.tensor_split(indices, world_size())[rank()]


def loss_weight(local: int, total: int) -> float:
    """What a rank's mean loss is scaled by so DDP's average is the global batch's mean."""
    return 1.0 if not active() else local * world_size() / max(total, 1)


def share(count: int) -> tuple[slice, float, int]:
    """This rank's rows of a global batch of `count`: (rows, loss weight, samples it counts).

    A rank left with no rows (a last batch smaller than the world) still runs one
    step, on one row weighted 0, because DDP needs every rank in every backward.
    """
    if not active():
        return slice(None), 1.0, count
    sizes = [len(part) for part in torch.tensor_split(torch.arange(count), world_size())]
    start = sum(sizes[: rank()])
    mine = sizes[rank()]
    if mine == 0:
        return slice(0, 1), 0.0, 0
    return slice(start, start + mine), loss_weight(mine, count), mine


def weighted_step(apply, loss: torch.Tensor, weight: float, optimizer) -> float:  # noqa: ANN001
    """`apply` on the rank-weighted loss; returns this rank's own (unweighted) mean loss."""
    if weight == 1.0:
        return apply(loss, optimizer)
    value = apply(loss * weight, optimizer)
    return value / weight if weight else float(loss.detach())


def reduce_sums(values: dict[str, float | torch.Tensor]) -> dict[str, float]:
    """Sums over all ranks, as floats (a value each on one process)."""
    if not active():
        return {k: float(v) for k, v in values.items()}
    keys = list(values)
    packed = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    packed = packed.to(_collective_device())
    dist.all_reduce(packed)
    return dict(zip(keys, packed.cpu().tolist(), strict=True))


def gather_rows(local: torch.Tensor) -> torch.Tensor:
    """Every rank's rows, concatenated in rank order (ranks may hold different counts)."""
    if not active():
        return local
    device = _collective_device()
    count = torch.tensor([local.shape[0]], device=device)
    counts = [torch.zeros_like(count) for _ in range(world_size())]
    dist.all_gather(counts, count)
    most = int(max(c.item() for c in counts))
    padded = torch.zeros((most, *local.shape[1:]), dtype=local.dtype, device=device)
    padded[: local.shape[0]] = local.to(device)
    pieces = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(pieces, padded)
    rows = [piece[: int(c.item())] for piece, c in zip(pieces, counts, strict=True)]
    return torch.cat(rows).to(local.device)


def _collective_device() -> torch.device:
    """NCCL moves CUDA tensors only; gloo moves CPU tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# ---- the per-process entry point (torchrun -m engine.training.distributed FILE) ---------------


def process_device(requested: str | None) -> str:
    """This process's device: its own GPU (LOCAL_RANK) under CUDA, else the CPU."""
    from engine.training.setup import resolve_device

    device = resolve_device(requested)
    if device.type != "cuda":
        return str(device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    return f"cuda:{local}"


def main(argv: Sequence[str] | None = None) -> int:
    """Train FILE as one rank of a torchrun job; rank 0 prints and saves like `netcanvas train`."""
    from engine.cli import EXIT_FAILED, _resolve_file, build_parser

    args = build_parser().parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    if "RANK" not in os.environ:
        print("netcanvas: engine.training.distributed is started by torchrun "
              "(or run `netcanvas train FILE --nproc-per-node N`)", file=sys.stderr)
        return EXIT_FAILED
    try:
        _resolve_file(args)
        from engine import load_document

        doc = load_document(args.file)
        check_task(value(doc.training, "task"))
        args.device = process_device(args.device or doc.training.get("device"))
    except NetCanvasError as exc:
        print(f"netcanvas train: {exc}", file=sys.stderr)
        return EXIT_FAILED
    dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
    try:
        return _train_rank(args)
    finally:
        dist.destroy_process_group()


def _train_rank(args) -> int:  # noqa: ANN001 - the `train` command's parsed arguments
    """Rank 0 runs `netcanvas train` itself; the others train with no output and no bundle."""
    from engine.training.cli import run_train

    if rank() == 0 and not args.events:
        return run_train(args)
    from engine import load_document
    from engine.training import make_trainer
    from engine.training.cli import train_options
    from engine.training.events import Failed

    doc = load_document(args.file)
    last = None
    for last in make_trainer(doc, train_options(args, doc)).run():
        if rank() == 0:  # --events: rank 0 streams every event to the GUI (event_stream.py)
            from engine.training.event_stream import encode

            print(encode(last), flush=True)
    if rank() == 0 and doc.weights:
        from engine.bundle import save_run

        save_run(doc, Path(args.out) / f"{Path(args.file).stem.removesuffix('.ncz')}.ncz")
    return 1 if isinstance(last, Failed) else 0


if __name__ == "__main__":
    sys.exit(main())
