"""Train every preset from its own seed and tabulate what it reaches against its target.

    python benchmarks/presets_benchmark.py [PRESET ...] [--write]

Prints a table (preset, metric, measured, target, training time, reference);
with --write it also rewrites docs/preset_results.md, which README.md links.
This is a measurement, not a test: `pytest -m slow` asserts the same targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.preset_metrics import extra_metrics  # noqa: E402
from engine.presets import Expectation, load_preset, preset_paths  # noqa: E402
from engine.training import Failed, Finished, make_trainer  # noqa: E402

# Run order: a preset another one is compared with, or used to judge it, comes first.
FIRST = ("lenet_digits", "rnn_delayed_copy")


def train_preset(name: str, trained: dict) -> tuple[dict, float, str]:
    """Train one preset headless; returns its metrics, seconds and a failure message."""
    doc = load_preset(name)
    began = time.perf_counter()
    result = None
    for event in make_trainer(doc).run():
        if isinstance(event, Finished | Failed):
            result = event
    seconds = time.perf_counter() - began
    if isinstance(result, Failed):
        return {}, seconds, result.message
    metrics = dict(result.metrics)
    metrics.update(extra_metrics(name, doc, trained))
    trained[name] = doc
    return metrics, seconds, ""


def fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("presets", nargs="*", help="names (default: all that need no download)")
    parser.add_argument("--write", action="store_true", help="rewrite docs/preset_results.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    names = args.presets or [p.stem for p in preset_paths()
                             if p.stem not in ("gcn_cora", "gat_cora")]
    names = sorted(names, key=lambda n: (n not in FIRST, n))
    trained: dict = {}
    results: dict[str, dict] = {}
    rows = []
    for name in names:
        metrics, seconds, failure = train_preset(name, trained)
        results[name] = metrics
        expect = Expectation.of(load_preset(name))
        value = metrics.get(expect.metric) if expect else None
        ok = expect.met(metrics, seconds, results) if expect and not failure else False
        status = "failed: " + failure[:60] if failure else ("yes" if ok else "NO")
        if expect and not (expect.at_least or expect.at_most or expect.beats):
            status = "reported"
        rows.append((name, expect.metric if expect else "-", fmt(value),
                     expect.target_text() if expect else "-", f"{seconds:.0f} s", status,
                     expect.reference if expect else ""))
        print(" | ".join(rows[-1]), flush=True)
    table = _markdown(rows)
    print("\n" + table)
    if args.write:
        header = (f"# Preset results\n\nProduced by `python benchmarks/presets_benchmark.py --write` on "
                  f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
                  f"torch threads: {torch.get_num_threads()}, "
                  f"torch {torch.__version__}, CPU. Each preset trains from its own seed.\n\n")
        (ROOT / "docs" / "preset_results.md").write_text(header + table + "\n", encoding="utf-8")
    return 0 if all(r[5] in ("yes", "reported") for r in rows) else 1


def _markdown(rows: list[tuple[str, ...]]) -> str:
    head = ("preset", "metric", "measured", "target", "time", "met", "reference")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
