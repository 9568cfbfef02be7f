"""`train.py`: the document's training written out as plain PyTorch (MATLAB's "generate code").

Beside `model.py` the Python export writes `train.py` and `data.npz` (the
samples and the train/val/test split NetCanvas used). The script imports only
torch and numpy (and the standard library), and repeats the supervised
trainer (`engine/training/supervised.py`) step for step, so that with the same
seed on the CPU it reproduces NetCanvas's metrics: the same random draws in the
same order — the global seed before the layers are built (initialisation),
one `torch.Generator` seeded alike for the shuffles and then each batch's
augmentation, dropout from the global generator — the same loss, optimizer,
schedule, epochs and batch size, and the same evaluation in batches of
max(batch size, 256).

Written for the supervised tasks (classification, regression, sequence,
autoencoder) on array datasets; for other tasks `write_training_script`
writes nothing and says why.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from string import Template

import numpy as np
import torch

from engine.compiler import class_name
from engine.document import Document
from engine.errors import NetCanvasError
from engine.fileio import atomic_write_bytes

TASKS = ("classification", "regression", "sequence", "autoencoder")
OPTIMIZER_ARGS = {"SGD": ("lr", "momentum", "weight_decay", "nesterov"),
                  "Adam": ("lr", "betas", "weight_decay"), "AdamW": ("lr", "betas", "weight_decay"),
                  "RMSprop": ("lr", "momentum", "weight_decay")}
SCHEDULER_ARGS = {"StepLR": ("step_size", "gamma"), "CosineAnnealingLR": ("T_max",),
                  "ExponentialLR": ("gamma",)}


def write_training_script(doc: Document, folder: str | os.PathLike) -> Path | None:
    """Write `train.py` and `data.npz` into `folder` (where `model.py` is); None for a task
    that has no supervised loop (GAN, RL, graphs, perceptron), whose trainer is not a script."""
    task = doc.training.get("task", "classification")
    if task not in TASKS or len(doc.networks) != 1:
        return None
    from engine.data import ArrayDataset, load_dataset

    if "dataset" not in doc.training:
        raise NetCanvasError("train.py: the document names no dataset to train on")
    seed = int(doc.training.get("seed", 0) or 0)
    data = load_dataset(doc.training, seed)
    if not isinstance(data, ArrayDataset):
        raise NetCanvasError(f"train.py: task '{task}' needs an array dataset; '{data.name}' is not one")
    folder = Path(folder)
    buffer = io.BytesIO()
    arrays = {"x": data.x, **{f"split_{k}": v for k, v in data.splits.items()}}
    if data.y is not None:
        arrays["y"] = data.y
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(folder / "data.npz", buffer.getvalue())
    atomic_write_bytes(folder / "train.py", script_source(doc, data.name).encode("utf-8"))
    return folder / "train.py"


def add_training_script(doc: Document, folder: str | os.PathLike) -> str:
    """For the Python export: write train.py where it applies; one line saying what happened."""
    try:
        path = write_training_script(doc, folder)
    except NetCanvasError as exc:  # e.g. a dataset that cannot be loaded here
        return f"train.py not written: {exc}"
    if path is None:
        return f"no train.py: task '{doc.training.get('task')}' has no supervised loop to write out"
    return "train.py and data.npz reproduce the training"


def script_source(doc: Document, dataset: str) -> str:
    """The text of `train.py` for a one-network supervised document."""
    from engine.training.augment import check_augment
    from engine.training.setup import make_loss, make_optimizer, make_scheduler

    training = doc.training
    task = training.get("task", "classification")
    loss = training.get("loss", {"classification": "cross_entropy", "sequence": "cross_entropy"}
                        .get(task, "mse"))
    epochs = int(training.get("epochs", 10))
    probe = torch.nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer(training.get("optimizer"), [probe])
    scheduler = make_scheduler(training.get("lr_schedule"), optimizer, epochs)
    network = next(iter(doc.networks))
    return TEMPLATE.substitute(
        title=(doc.name or "Model").replace('"""', "'''"), dataset=dataset,
        cls=class_name(network), task=task, loss_name=loss, epochs=epochs,
        batch_size=int(training.get("batch_size", 64)), seed=int(training.get("seed", 0) or 0),
        shift=int(check_augment(training.get("augment")).get("shift", 0)),
        loss=f"torch.nn.{type(make_loss(loss)).__name__}()",
        optimizer=_call(f"torch.optim.{type(optimizer).__name__}", "model.parameters()",
                        optimizer.defaults, OPTIMIZER_ARGS[type(optimizer).__name__]),
        scheduler="None" if scheduler is None else _call(
            f"torch.optim.lr_scheduler.{type(scheduler).__name__}", "optimizer", vars(scheduler),
            SCHEDULER_ARGS[type(scheduler).__name__]),
    )


def _call(function: str, first: str, values: dict, names: tuple[str, ...]) -> str:
    args = [first] + [f"{n}={values[n]!r}" for n in names]
    return f"{function}({', '.join(args)})"


TEMPLATE = Template('''"""$title: the NetCanvas training, in plain PyTorch.

Run it beside model.py and data.npz:  python train.py [--threads N]
Task $task on $dataset; data.npz holds the samples and the train/val/test
split NetCanvas used. With the same seed on the CPU (and the same number of
torch threads) it reproduces NetCanvas's metrics: the random draws come in the
same order (the seed before the layers are built, one generator for the
shuffles and augmentation, dropout from the global one).
"""

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model import $cls

SEED = $seed
EPOCHS = $epochs
BATCH_SIZE = $batch_size
TASK = "$task"
LOSS = "$loss_name"
SHIFT = $shift  # augmentation: largest random translation in pixels (0: none)
CLASS_LOSSES = ("cross_entropy", "nll")
BINARY_LOSSES = ("bce", "bce_logits")
HERE = Path(__file__).resolve().parent


def batches(indices, batch_size, generator=None):
    """Index batches, shuffled by `generator` (None keeps the order)."""
    order = indices[torch.randperm(len(indices), generator=generator)] if generator is not None else indices
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def random_shift(images, max_shift, generator):
    """Translate each image by its own whole-pixel offset in [-max_shift, max_shift], zero-filled."""
    if max_shift == 0 or images.dim() != 4:
        return images
    n, _, height, width = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    theta = torch.zeros(n, 2, 3, dtype=images.dtype)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = -2 * offsets[:, 0].to(images.dtype) / width
    theta[:, 1, 2] = -2 * offsets[:, 1].to(images.dtype) / height
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def first_output(result):
    return result[0] if isinstance(result, tuple) else result


def compute_loss(loss_fn, out, target):
    if LOSS in CLASS_LOSSES and out.dim() > 2:  # (N, T, V): a class per step
        return loss_fn(out.reshape(-1, out.shape[-1]), target.reshape(-1))
    if LOSS not in CLASS_LOSSES and target.shape != out.shape:
        target = target.reshape(out.shape)
    return loss_fn(out, target)


def predict(out):
    """Class ids from the outputs, or None for real values."""
    if LOSS in CLASS_LOSSES:
        return out.argmax(-1)
    if LOSS in BINARY_LOSSES:
        return (out > (0.0 if LOSS == "bce_logits" else 0.5)).long()
    return None


@torch.no_grad()
def evaluate(model, loss_fn, x, y, idx):
    model.eval()
    out = torch.cat([first_output(model(x[b])) for b in batches(idx, max(BATCH_SIZE, 256))])
    target = y[idx]
    metrics = {"loss": float(compute_loss(loss_fn, out, target))}
    predicted = predict(out)
    if predicted is not None:
        metrics["accuracy"] = float((predicted == target.reshape(predicted.shape).long()).float().mean())
    elif TASK in ("regression", "sequence", "autoencoder"):
        error = out.float() - target.reshape(out.shape).float()
        metrics.update(mse=float((error**2).mean()), mae=float(error.abs().mean()))
    return metrics


def load_data():
    data = np.load(HERE / "data.npz")
    x = torch.from_numpy(np.ascontiguousarray(data["x"]))
    x = x.float() if x.dtype == torch.float64 else x
    y = x if TASK == "autoencoder" else torch.from_numpy(np.ascontiguousarray(data["y"]))
    y = y.float() if LOSS not in CLASS_LOSSES else y
    splits = {k[len("split_"):]: torch.from_numpy(data[k]).long() for k in data.files if k.startswith("split_")}
    for name in ("val", "test"):
        if len(splits.get(name, ())) == 0:
            splits[name] = splits["train"]
    return x, y, splits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch threads (match NetCanvas's to match its numbers)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(SEED)
    np.random.seed(SEED % 2**32)
    torch.manual_seed(SEED)  # the layers below are initialised from this
    generator = torch.Generator().manual_seed(SEED)  # shuffling, then augmentation
    x, y, splits = load_data()
    model = $cls()
    loss_fn = $loss
    optimizer = $optimizer
    scheduler = $scheduler
    for epoch in range(EPOCHS):
        model.train()
        total, count = 0.0, 0
        for idx in batches(splits["train"], BATCH_SIZE, generator):
            xb, yb = x[idx], y[idx]
            if SHIFT:
                xb = random_shift(xb, SHIFT, generator)
                if TASK == "autoencoder":
                    yb = xb
            out = first_output(model(xb))
            loss = compute_loss(loss_fn, out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()) * len(out), count + len(out)
        if scheduler is not None:
            scheduler.step()
        val = evaluate(model, loss_fn, x, y, splits["val"])
        shown = "  ".join(f"val_{k} {v:.4f}" for k, v in val.items())
        print(f"epoch {epoch + 1}/{EPOCHS}  loss {total / max(count, 1):.4f}  {shown}", flush=True)
    metrics = {f"test_{k}": v for k, v in evaluate(model, loss_fn, x, y, splits["test"]).items()}
    metrics.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, x, y, splits["val"]).items()})
    torch.save(model.state_dict(), HERE / "trained_state_dict.pt")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
''')
