"""Streaming an image folder: memory stays bounded, and samples/s with 0, 1 and 2 workers.

Generates `--images` small PNGs (default 20,000, 10 classes, 32×32 RGB) in a
temporary folder, then in a fresh process per measurement trains one epoch of
Flatten → Linear on it with `training.data.streaming: true` (NetCanvas) and the
same model with a hand-written PyTorch Dataset + DataLoader (baseline), for 0,
1 and 2 loader workers, alternating NetCanvas and baseline, `--repeats` times.
It prints, per worker count, the median training samples/s of each, their
ratio, and the peak RSS of the process plus its workers next to what the
decoded folder would take in memory.

    PYTHONPATH=$PWD python benchmarks/data_benchmark.py --images 20000 --repeats 1
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
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp) / "images", args.images)
        decoded_mib = args.images * 3 * SIDE * SIDE * 4 / 2**20
        print(f"{args.images} PNGs of 3×{SIDE}×{SIDE}; decoded in memory: {decoded_mib:.0f} MiB")
        print(f"{'workers':>7} {'netcanvas/s':>12} {'pytorch/s':>10} {'ratio':>6} "
              f"{'netcanvas peak RSS':>19} {'pytorch peak RSS':>17}")
        for workers in args.workers:
            runs = {"netcanvas": [], "pytorch": []}
            for _ in range(args.repeats):  # alternating A/B
                for which in runs:
                    runs[which].append(measure(folder, which, workers))
            rate = {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()}
            peak = {k: max(r["peak_mib"] for r in v) for k, v in runs.items()}
            print(f"{workers:>7} {rate['netcanvas']:>12.0f} {rate['pytorch']:>10.0f} "
                  f"{rate['netcanvas'] / rate['pytorch']:>6.2f} {peak['netcanvas']:>15.0f} MiB "
                  f"{peak['pytorch']:>13.0f} MiB")


if __name__ == "__main__":
    main()
