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

import numpy as np
import torch

from engine.compiler import class_name
from engine.document import Document
from engine.errors import NetCanvasError
from engine.fileio import atomic_write_bytes
from engine.training.settings import value
from engine.training_templates import IDX_LOADER, NPZ_LOADER, TRAINING

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
    if "dataset" not in doc.training:
        raise NetCanvasError("train.py: the document names no dataset to train on")
    from engine.data import ArrayDataset, load_dataset
    from engine.data.base import dataset_spec
    from engine.data.downloads import SOURCES

    spec = dataset_spec(doc.training)
    folder = Path(folder)
    if spec["name"] in SOURCES and spec["name"] != "cora":  # MNIST's kind: the script downloads it
        loader = _download_loader(spec)
    else:
        data = load_dataset(doc.training, value(doc.training, "seed"))
        if not isinstance(data, ArrayDataset):
            raise NetCanvasError(f"train.py: task '{task}' needs an array dataset; '{data.name}' is not one")
        arrays = {"x": data.x, **{f"split_{k}": v for k, v in data.splits.items()}}
        if data.y is not None:
            arrays["y"] = data.y
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(folder / "data.npz", buffer.getvalue())
        loader = NPZ_LOADER
    atomic_write_bytes(folder / "train.py", script_source(doc, spec["name"], loader).encode("utf-8"))
    return folder / "train.py"


def _download_loader(spec: dict) -> str:
    """The code that downloads an IDX dataset (MNIST, Fashion-MNIST) and splits it as NetCanvas does."""
    from engine.data.downloads import SOURCES

    unknown = set(spec) - {"name", "val_size", "train_size", "download"}
    if unknown:
        raise NetCanvasError(f"train.py: the dataset option '{sorted(unknown)[0]}' is not written out")
    files = "".join(f"    {r.name!r}: ({r.sha256!r}, {list(r.urls)!r}),\n" for r in SOURCES[spec["name"]])
    return IDX_LOADER.substitute(name=spec["name"], files=files, val_size=int(spec.get("val_size", 5000)),
                                 train_size=spec.get("train_size"))


def add_training_script(doc: Document, folder: str | os.PathLike) -> str:
    """For the Python export: write train.py where it applies; one line saying what happened."""
    try:
        path = write_training_script(doc, folder)
    except NetCanvasError as exc:  # e.g. a dataset that cannot be loaded here
        return f"train.py not written: {exc}"
    if path is None:
        return f"no train.py: task '{doc.training.get('task')}' has no supervised loop to write out"
    if (Path(folder) / "data.npz").exists():
        return "train.py and data.npz reproduce the training"
    return "train.py (which downloads its data) reproduces the training"


def script_source(doc: Document, dataset: str, loader: str = NPZ_LOADER) -> str:
    """The text of `train.py` for a one-network supervised document."""
    from engine.training.augment import check_augment
    from engine.training.setup import make_loss, make_optimizer, make_scheduler

    training = doc.training
    task = training.get("task", "classification")
    loss = training.get("loss", {"classification": "cross_entropy", "sequence": "cross_entropy"}
                        .get(task, "mse"))
    epochs = value(training, "epochs")
    probe = torch.nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer(training.get("optimizer"), [probe])
    scheduler = make_scheduler(training.get("lr_schedule"), optimizer, epochs)
    network = next(iter(doc.networks))
    return TRAINING.substitute(
        title=(doc.name or "Model").replace('"""', "'''"), dataset=dataset, loader=loader.strip(),
        cls=class_name(network), task=task, loss_name=loss, epochs=epochs,
        batch_size=value(training, "batch_size"), seed=value(training, "seed"),
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
