"""Does a small network train as fast on one CPU thread as on torch's default? Prints a table.

    python benchmarks/cpu_threads.py [--repeats 3] [--seconds 3] [--presets mlp lenet ...]

For every preset with a network (tabular Q-learning has none; DQN's rate is its
Step events, one per `log_every` updates), the first step is sized as a run sizes it
(engine/training/threads.py: floating-point operations and the largest tensor),
then the preset trains for a few seconds at one thread and at torch's default,
alternating (A B, B A, ...) so drift on a shared machine hits both, after a
warm-up of WARMUP_STEPS. The table shows the median steps per second of each
and their ratio: where the policy chose one thread, the ratio default / one
should be about 1 or below; where it kept the default, above 1 is what it kept.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.presets import load_preset, preset_paths  # noqa: E402
from engine.training import Failed, RunOptions, Step, make_trainer  # noqa: E402
from engine.training.threads import StepSize  # noqa: E402

WARMUP_STEPS = 20
NO_NETWORK = ("q_learning",)  # tabular: nothing to size


def sized(name: str) -> tuple[StepSize | None, int]:
    """The first step's size, and the thread count the run went on at."""
    trainer = make_trainer(load_preset(name), RunOptions(device="cpu", epochs=10_000))
    for event in trainer.run():
        if isinstance(event, Step):
            threads = torch.get_num_threads()
            trainer.stop()
        elif isinstance(event, Failed):
            raise RuntimeError(event.message)
    return trainer.cpu_threads.size, threads


def steps_per_second(name: str, threads: int, seconds: float) -> float:
    trainer = make_trainer(load_preset(name), RunOptions(device="cpu", epochs=10_000, threads=threads))
    count, began = 0, 0.0
    for event in trainer.run():
        if not isinstance(event, Step):
            continue
        count += 1
        if count == WARMUP_STEPS:
            began = time.perf_counter()
        elif count > WARMUP_STEPS and time.perf_counter() - began > seconds:
            trainer.stop()
    return (count - WARMUP_STEPS) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed training per run")
    parser.add_argument("--presets", nargs="*", help="names (or parts of names) to run")
    args = parser.parse_args()
    default = torch.get_num_threads()
    names = [p.stem for p in preset_paths()
             if not any(k in p.stem for k in NO_NETWORK)
             and (not args.presets or any(k in p.stem for k in args.presets))]
    print(f"torch {torch.__version__}, default {default} thread(s); {args.repeats} alternating "
          f"runs of {args.seconds:g} s each, medians in steps/s")
    print(f"{'preset':26}{'MFLOP/step':>11}{'largest':>10}{'chosen':>8}"
          f"{'1 thread':>10}{f'{default} threads':>11}{'ratio':>7}")
    for name in names:
        try:
            size, chosen = sized(name)
        except RuntimeError as exc:  # a dataset this machine cannot fetch
            print(f"{name:26}does not train here: {exc}")
            continue
        rates: dict[int, list[float]] = {1: [], default: []}
        for repeat in range(args.repeats):
            for threads in (1, default) if repeat % 2 == 0 else (default, 1):
                rates[threads].append(steps_per_second(name, threads, args.seconds))
        one, many = statistics.median(rates[1]), statistics.median(rates[default])
        flops = f"{size.flops / 1e6:.2f}" if size else "-"
        largest = f"{size.largest_tensor:,}" if size else "-"
        print(f"{name:26}{flops:>11}{largest:>10}{chosen:>8}{one:>10.1f}{many:>11.1f}"
              f"{many / one:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
