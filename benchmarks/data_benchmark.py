"""Streaming an image folder and a large CSV: memory stays bounded, and samples/s.

Generates `--images` small PNGs (default 20,000, 10 classes, 32×32 RGB) in a
temporary folder, then in a fresh process per measurement trains one epoch of
Flatten → Linear on it with `training.data.streaming: true` (NetCanvas) and the
same model with a hand-written PyTorch Dataset + DataLoader (baseline), for 0,
1 and 2 loader workers, alternating NetCanvas and baseline, `--repeats` times.
It prints, per worker count, the median training samples/s of each, their
ratio, and the peak RSS of the process plus its workers next to what the
decoded folder would take in memory.

With `--csv-mb` (default 300; 0 skips it) it also generates a CSV of that size
(`--csv-features` columns, default ten, and a class from a fixed projection of them) and, in a fresh process
per measurement, alternating, trains one epoch of a small MLP on it with NetCanvas
streamed (`streaming: true`, the rows parsed into a row file and read back per
batch), NetCanvas in memory (`streaming: false`) and a hand-written PyTorch
baseline (pyarrow reads the whole file, tensors indexed by shuffled batches). It
prints the median load seconds and training samples/s, the ratio to the baseline,
and the peak RSS of the process, also as what the load added over the imports.
`--images 0` skips the image folder.

    PYTHONPATH=$PWD python benchmarks/data_benchmark.py --images 20000 --repeats 1
    PYTHONPATH=$PWD python benchmarks/data_benchmark.py --images 0 --csv-mb 300 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIDE, CLASSES, BATCH = 32, 10, 64

CHILD = """
import json, resource, sys, time
import numpy as np, torch
from PIL import Image
torch.set_num_threads(1)
folder, which, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])

def peak_mib():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + workers * kids) / 1024  # workers: the largest one's peak, each

if which == "netcanvas":
    from engine.training import make_trainer, RunOptions
    from engine.training.events import Started, Step
    from tests.helpers import chain_document
    setup = {"task": "classification", "dataset": {"name": "image_folder", "path": folder},
             "optimizer": {"name": "sgd", "lr": 0.05}, "epochs": 1, "batch_size": {BATCH},
             "seed": 0, "device": "cpu", "data": {"streaming": True, "workers": workers}}
    doc = chain_document([("Flatten", {}), ("Linear", {"out_features": {CLASSES}})], setup)
    trainer = make_trainer(doc, RunOptions())
    for event in trainer.run():
        if isinstance(event, Started):
            began = time.perf_counter()
        elif isinstance(event, Step):  # to the epoch's last step: the val pass is not counted
            seconds = time.perf_counter() - began
        elif type(event).__name__ == "Failed":
            raise SystemExit(event.message)
    samples = len(trainer.splits["train"])
    del trainer  # its loader's workers exit and are reaped, so RUSAGE_CHILDREN counts them
    import gc; gc.collect()
else:
    from pathlib import Path
    files = sorted(p for p in Path(folder).rglob("*.png"))
    classes = sorted({p.parent.name for p in files})
    labels = [classes.index(p.parent.name) for p in files]
    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)
        def __getitem__(self, i):
            image = Image.open(files[i]).convert("RGB")
            x = np.asarray(image, np.float32).transpose(2, 0, 1) / 255.0
            return torch.from_numpy(x), labels[i]
    train = list(np.random.default_rng(0).permutation(len(files))[: int(0.7 * len(files))])
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(Images(), train),
                                         batch_size={BATCH}, shuffle=True, num_workers=workers)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * {SIDE} ** 2, {CLASSES}))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    began = time.perf_counter()
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - began
    samples = len(train)
    del loader
    import gc; gc.collect()
print(json.dumps({"rate": samples / seconds, "peak_mib": peak_mib()}))
""".replace("{BATCH}", str(BATCH)).replace("{CLASSES}", str(CLASSES)).replace("{SIDE}", str(SIDE))

CSV_FEATURES, CSV_CLASSES, CSV_BATCH = 10, 4, 256

CSV_CHILD = """
import json, resource, sys, time
import numpy as np, torch
import pyarrow.csv, sklearn.model_selection  # loaded before the base is read: only the data counts
torch.set_num_threads(1)
path, which = sys.argv[1], sys.argv[2]
BATCH, CLASSES, HIDDEN = {BATCH}, {CLASSES}, 32

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if which == "pytorch":
    base = peak_mib()
    start = time.perf_counter()
    table = pyarrow.csv.read_csv(path)
    y = torch.from_numpy(table.column("label").to_numpy().astype(np.int64))
    x = np.column_stack([table.column(i).to_numpy() for i in range(table.num_columns - 1)])
    del table
    train = np.sort(np.random.default_rng(0).permutation(len(x))[: int(0.7 * len(x))])
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = torch.from_numpy(((x - mean) / std).astype(np.float32))
    train = torch.from_numpy(train)
    load = time.perf_counter() - start
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, CLASSES))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    began = time.perf_counter()
    for batch in torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).split(BATCH):
        rows = train[batch]
        loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - began
    samples = len(train)
else:
    from engine.training import make_trainer, RunOptions
    from engine.training.events import Started, Step
    from tests.helpers import chain_document
    base = peak_mib()
    setup = {"task": "classification", "dataset": {"name": "csv", "path": path},
             "optimizer": {"name": "sgd", "lr": 0.05}, "epochs": 1, "batch_size": BATCH,
             "seed": 0, "device": "cpu", "data": {"streaming": which == "streamed"}}
    doc = chain_document([("Linear", {"out_features": HIDDEN}), ("ReLU", {}),
                          ("Linear", {"out_features": CLASSES})], setup)
    trainer = make_trainer(doc, RunOptions())
    start = time.perf_counter()
    for event in trainer.run():
        if isinstance(event, Started):
            began = time.perf_counter()
            load = began - start
        elif isinstance(event, Step):  # to the epoch's last step: the val pass is not counted
            seconds = time.perf_counter() - began
        elif type(event).__name__ == "Failed":
            raise SystemExit(event.message)
    samples = len(trainer.splits["train"])
print(json.dumps({"load": load, "rate": samples / seconds, "peak_mib": peak_mib(), "base_mib": base}))
""".replace("{BATCH}", str(CSV_BATCH)).replace("{CLASSES}", str(CSV_CLASSES))


def make_csv(path: Path, megabytes: int, features: int = CSV_FEATURES) -> int:
    """A CSV of about `megabytes` MB: `features` columns of 4 decimals and a class; its rows."""
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    rng = np.random.default_rng(0)
    projection = rng.normal(size=(features, CSV_CLASSES))
    rows, chunk = 0, 2_000_000 // features
    with open(path, "wb") as handle:
        handle.write((",".join(f"f{i}" for i in range(features)) + ",label\n").encode())
        while handle.tell() < megabytes * 10**6:
            x = np.round(rng.normal(size=(chunk, features)), 4)
            label = np.argmax(x @ projection + rng.normal(size=(chunk, CSV_CLASSES)), axis=1)
            columns = {f"f{i}": x[:, i] for i in range(features)} | {"label": label}
            arrow_csv.write_csv(pa.table(columns), handle,
                                arrow_csv.WriteOptions(include_header=False))
            rows += chunk
    return rows


def measure_csv(path: Path, which: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CSV_CHILD, str(path), which],
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": ""})
    if done.returncode:
        raise SystemExit(f"csv {which} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def csv_table(root: Path, megabytes: int, features: int, repeats: int) -> None:
    """Print the CSV rows: NetCanvas streamed and in memory against the PyTorch baseline."""
    path = root / "table.csv"
    rows = make_csv(path, megabytes, features)
    size = path.stat().st_size / 2**20
    print(f"\nCSV of {size:.0f} MiB: {rows} rows of {features} features; one epoch, "
          f"batch {CSV_BATCH}; median of {repeats}")
    print(f"{'reader':>9} {'load s':>7} {'train/s':>8} {'ratio':>6} {'peak RSS':>9} {'added':>9}")
    runs = {"streamed": [], "memory": [], "pytorch": []}
    for _ in range(repeats):  # alternating
        for which in runs:
            runs[which].append(measure_csv(path, which))
    baseline = statistics.median(r["rate"] for r in runs["pytorch"])
    for which, results in runs.items():
        rate = statistics.median(r["rate"] for r in results)
        load = statistics.median(r["load"] for r in results)
        peak = max(r["peak_mib"] for r in results)
        added = max(r["peak_mib"] - r["base_mib"] for r in results)
        print(f"{which:>9} {load:>7.1f} {rate:>8.0f} {rate / baseline:>6.2f} "
              f"{peak:>5.0f} MiB {added:>5.0f} MiB")


def make_folder(root: Path, count: int) -> Path:
    """`count` random 32×32 PNGs in CLASSES sub-folders."""
    rng = np.random.default_rng(0)
    from PIL import Image

    for c in range(CLASSES):
        (root / f"class{c}").mkdir(parents=True)
    for i in range(count):
        pixels = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"class{i % CLASSES}" / f"{i}.png")
    return root


def measure(folder: Path, which: str, workers: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), which, str(workers)],
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": ""})
    if done.returncode:
        raise SystemExit(f"{which} with {workers} workers failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000, help="0 skips the image folder")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--csv-mb", type=int, default=300, help="0 skips the CSV")
    parser.add_argument("--csv-features", type=int, default=CSV_FEATURES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.images:
            image_table(Path(tmp), args.images, args.repeats, args.workers)
        if args.csv_mb:
            csv_table(Path(tmp), args.csv_mb, args.csv_features, args.repeats)


def image_table(root: Path, images: int, repeats: int, worker_counts: list[int]) -> None:
    """Print the image-folder rows: NetCanvas streamed against the PyTorch baseline, per worker count."""
    folder = make_folder(root / "images", images)
    decoded_mib = images * 3 * SIDE * SIDE * 4 / 2**20
    print(f"{images} PNGs of 3×{SIDE}×{SIDE}; decoded in memory: {decoded_mib:.0f} MiB")
    print(f"{'workers':>7} {'netcanvas/s':>12} {'pytorch/s':>10} {'ratio':>6} "
          f"{'netcanvas peak RSS':>19} {'pytorch peak RSS':>17}")
    for workers in worker_counts:
        runs = {"netcanvas": [], "pytorch": []}
        for _ in range(repeats):  # alternating A/B
            for which in runs:
                runs[which].append(measure(folder, which, workers))
        rate = {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()}
        peak = {k: max(r["peak_mib"] for r in v) for k, v in runs.items()}
        print(f"{workers:>7} {rate['netcanvas']:>12.0f} {rate['pytorch']:>10.0f} "
              f"{rate['netcanvas'] / rate['pytorch']:>6.2f} {peak['netcanvas']:>15.0f} MiB "
              f"{peak['pytorch']:>13.0f} MiB")


if __name__ == "__main__":
    main()
