"""The text of `train.py` (see `engine/training_script.py`): the loop, and how data is read.

`TRAINING` is the script with `$` placeholders; `NPZ_LOADER` (embedded and user
data, saved beside it) or `IDX_LOADER` (MNIST's kind, downloaded by the script)
fills its `$loader`. Each mirrors the engine code named in its docstring.
"""

from string import Template

TRAINING = Template('''"""$title: the NetCanvas training, in plain PyTorch.

Run it beside model.py:  python train.py [--threads N]
Task $task on $dataset (from data.npz beside it, or downloaded into ./data),
split into train/val/test as NetCanvas split it. With the same seed on the CPU (and the same number of
torch threads: NetCanvas trains a network whose step is small on one, so give such a
one --threads 1) it reproduces NetCanvas's metrics: the random draws come in the
same order (the seed before the layers are built, one generator for the
shuffles and augmentation, dropout from the global one).
"""

import argparse
import gzip
import hashlib
import json
import random
import urllib.request
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
def outputs(model, x, y, idx):
    """The network's outputs on `idx` (in order, no shuffling) and their targets."""
    model.eval()
    return torch.cat([first_output(model(x[b])) for b in batches(idx, max(BATCH_SIZE, 256))]), y[idx]


def evaluate(model, loss_fn, x, y, idx):
    out, target = outputs(model, x, y, idx)
    metrics = {"loss": float(compute_loss(loss_fn, out, target))}
    predicted = predict(out)
    if predicted is not None:
        metrics["accuracy"] = float((predicted == target.reshape(predicted.shape).long()).float().mean())
    elif TASK in ("regression", "sequence", "autoencoder"):
        error = out.float() - target.reshape(out.shape).float()
        metrics.update(mse=float((error**2).mean()), mae=float(error.abs().mean()))
    return metrics


def extra_metrics(model, x, y, test, metrics):
    """Whole sequences right (sequence tasks); the gain over "next = last" (forecasts)."""
    extra = {}
    out, target = outputs(model, x, y, test)
    predicted = predict(out)
    if TASK == "sequence" and predicted is not None and predicted.dim() > 1:
        matches = predicted == target.reshape(predicted.shape).long()
        extra["test_sequence_accuracy"] = float(matches.all(dim=-1).float().mean())
    x_test = x[test]
    if TASK == "regression" and x_test.dim() == 3 and y.dim() == 2:
        naive = x_test[:, -1, : y.shape[-1]]
        extra["test_naive_mse"] = float(((naive - target.reshape(naive.shape)) ** 2).mean())
        extra["test_naive_ratio"] = extra["test_naive_mse"] / max(metrics["test_mse"], 1e-12)
    return extra


$loader


def load_data():
    """Samples and targets as the trainer holds them, and the indices of each split."""
    x, y, splits = read_arrays()
    x = torch.from_numpy(np.ascontiguousarray(x))
    x = x.float() if x.dtype == torch.float64 else x
    y = x if TASK == "autoencoder" else torch.from_numpy(np.ascontiguousarray(y))
    y = y.float() if LOSS not in CLASS_LOSSES else y
    splits = {k: torch.from_numpy(np.asarray(v)).long() for k, v in splits.items()}
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
    metrics.update(extra_metrics(model, x, y, splits["test"], metrics))
    torch.save(model.state_dict(), HERE / "trained_state_dict.pt")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
''')


NPZ_LOADER = '''
def read_arrays():
    """data.npz: the samples, the targets and the split NetCanvas used."""
    data = np.load(HERE / "data.npz")
    splits = {k[len("split_"):]: data[k] for k in data.files if k.startswith("split_")}
    return data["x"], data["y"] if "y" in data.files else None, splits
'''

# engine/data/downloads.py (fetch, _idx_dataset, _idx_splits) and formats.read_idx, unrolled.
IDX_LOADER = Template('''
DATASET = "$name"
FILES = {  # file -> (SHA-256, mirrors)
$files}
VAL_SIZE = $val_size  # training images held out for validation
TRAIN_SIZE = $train_size  # None: all the other training images


def download(name):
    """The file in ./data/<dataset>/, downloaded once and checked against its SHA-256."""
    digest, urls = FILES[name]
    path = HERE / "data" / DATASET / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        for url in urls:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    raw = response.read()
            except OSError as exc:
                print(f"{url}: {exc}")
                continue
            if hashlib.sha256(raw).hexdigest() == digest:
                path.write_bytes(raw)
                break
            print(f"{url}: checksum mismatch")
        else:
            raise SystemExit(f"cannot download {name}: place it in {path.parent} by hand")
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"{path} does not match its SHA-256: delete it to download it again")
    return path


def read_idx(path):
    """An IDX file (MNIST's format), gzip'ed or not."""
    raw = path.read_bytes()
    if raw[:2] == b"\\x1f\\x8b":
        raw = gzip.decompress(raw)
    dtype = np.dtype({8: ">u1", 9: ">i1", 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}[raw[2]])
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", raw[3], 4))
    return np.frombuffer(raw, dtype, offset=4 + 4 * raw[3]).reshape(dims).astype(dtype.newbyteorder("="))


def read_arrays():
    """The official test set stays the test set; validation is drawn from training by the seed."""
    names = list(FILES)
    images = [read_idx(download(n)) for n in names[0::2]]
    labels = [read_idx(download(n)) for n in names[1::2]]
    n_train = len(labels[0])
    x = np.concatenate(images)[:, None].astype(np.float32) / 255.0
    y = np.concatenate(labels).astype(np.int64)
    order = np.random.default_rng(SEED).permutation(n_train)
    val, train = order[:VAL_SIZE], order[VAL_SIZE:]
    if TRAIN_SIZE is not None:
        train = train[:TRAIN_SIZE]
    return x, y, {"train": np.sort(train), "val": np.sort(val), "test": np.arange(n_train, len(y))}
''')
