"""What recording a run costs: trainer wall time with the run store on against off.

    python benchmarks/run_store_overhead.py [PRESET ...] [--epochs N] [--repeats R]

Without --epochs each preset trains for its own epochs: the run must be long
enough that the store's fixed costs (run.json, the bundle) are what a real run
pays, not the whole of a tenth of a second.

Each preset trains R times with the store and R times without, alternating
(off, on, off, on, ...) after one warm-up of each, from the same seed; the
table shows the medians and their ratio (target: on/off <= 1.02). "On" is the
whole recorded run: run.json, metrics.csv, TensorBoard events and the
bundle, from the recorder's creation to its last write. The per-step work
is an append; rows are written by a thread at epoch ends.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.presets import load_preset  # noqa: E402
from engine.runs.recorder import RunRecorder  # noqa: E402
from engine.training import RunOptions, make_trainer  # noqa: E402


def one_run(name: str, epochs: int | None, store: Path | None) -> float:
    doc = load_preset(name)
    options = RunOptions(device="cpu", epochs=epochs)
    began = time.perf_counter()
    events = make_trainer(doc, options).run()
    if store is not None:
        recorder = RunRecorder(store, doc, options, source="benchmark")
        events = recorder.watch(events)
    for _ in events:
        pass
    return time.perf_counter() - began


def measure(name: str, epochs: int | None, repeats: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        one_run(name, epochs, None)
        one_run(name, epochs, store)  # warm-up: imports tensorboard once
        off, on = [], []
        for _ in range(repeats):
            off.append(one_run(name, epochs, None))
            on.append(one_run(name, epochs, store))
    return statistics.median(off), statistics.median(on)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=["mlp_xor", "lenet_digits"])
    parser.add_argument("--epochs", type=int, help="override each preset's epochs")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'preset':<16} {'epochs':>6} {'off (s)':>9} {'on (s)':>9} {'on/off':>7}")
    for name in args.presets:
        off, on = measure(name, args.epochs, args.repeats)
        epochs = args.epochs or load_preset(name).training.get("epochs", "")
        print(f"{name:<16} {epochs:>6} {off:>9.3f} {on:>9.3f} {on / off:>7.3f}")


if __name__ == "__main__":
    main()
