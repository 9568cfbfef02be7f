"""Memory of a long headless run: a million tiny steps, resident memory over time.

    python benchmarks/long_run_memory.py [--steps 1000000] [--rows 12]

A one-layer regression on a few dozen samples in batches of 8 (7 steps an
epoch, so the run also records some 140,000 epochs of history), consumed as the CLI consumes
it. Prints the resident set size at evenly spaced steps and the growth per
10,000 steps after warm-up (the first tenth of the run): flat means the
trainer's histories and everything else it keeps per step are bounded.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data.base import ArrayDataset, DatasetEntry, register  # noqa: E402
from engine.data.splits import split_indices  # noqa: E402
from engine.training import Failed, Step, make_trainer  # noqa: E402
from tests.helpers import chain_document  # noqa: E402


def _tiny(spec, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, 2)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0]], dtype=np.float32)).astype(np.float32)
    return ArrayDataset("memory_tiny", x, y, split_indices(80, seed))


register(DatasetEntry("memory_tiny", "80 points of a plane, for the memory benchmark", "arrays",
                      _tiny, lambda spec: {"x": (None, 2)}))


def rss_mib() -> float:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    per_epoch = -(-len(_tiny({}, 0).splits["train"]) // 8)
    doc = chain_document([("Linear", {"out_features": 1})],
                         {"task": "regression", "dataset": "memory_tiny", "loss": "mse",
                          "optimizer": {"name": "sgd", "lr": 0.01}, "batch_size": 8,
                          "epochs": -(-args.steps // per_epoch), "seed": 0, "device": "cpu"})
    every = max(args.steps // args.rows, 1)
    rows: list[tuple[int, float, float]] = []
    began = time.perf_counter()
    print(f"{'step':>10}{'seconds':>10}{'RSS MiB':>10}", flush=True)
    for event in make_trainer(doc).run():
        if isinstance(event, Step) and event.step % every == 0:
            gc.collect()
            rows.append((event.step, time.perf_counter() - began, rss_mib()))
            print(f"{rows[-1][0]:>10,}{rows[-1][1]:>10.1f}{rows[-1][2]:>10.1f}", flush=True)
        elif isinstance(event, Failed):
            raise SystemExit(event.message)
    warm = [r for r in rows if r[0] >= args.steps // 10]
    if len(warm) >= 2:
        growth = (warm[-1][2] - warm[0][2]) / max(warm[-1][0] - warm[0][0], 1) * 10_000
        print(f"after warm-up: {growth:+.4f} MiB per 10,000 steps; history kept: "
              f"{len(doc.metrics['history']['epoch_train']):,} of "
              f"{doc.train_state['epoch']:,} epochs")


if __name__ == "__main__":
    main()
