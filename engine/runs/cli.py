"""`netcanvas runs`, `netcanvas runs diff` and `netcanvas sweep`, and `train --runs`.

`add_run_commands` is the whole hook into engine/cli.py's parser; the
handlers import their work on use, so neither this module nor `runs` imports
torch (`netcanvas runs` lists a store in a blink).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import NetCanvasError

COMMANDS = ("runs", "sweep")


def add_run_commands(sub: argparse._SubParsersAction) -> None:
    """Add `runs` and `sweep`, and `--runs DIR` to `train` (which must already exist)."""
    runs_help = "the run store (default: runs/ beside the document; ./runs for a preset)"
    sub.choices["train"].add_argument("--runs", metavar="DIR", help=runs_help)

    p = sub.add_parser("runs", help="list recorded runs, or `runs diff A B` to compare two",
                       description="netcanvas runs [DIR] [--json]  |  netcanvas runs diff A B [--dir DIR]")
    p.add_argument("words", nargs="*", metavar="DIR | diff A B", help="a run store (default ./runs), "
                   "or `diff` and two runs (ids, parts of ids, or folders)")
    p.add_argument("--dir", default=None, help="the run store `diff` looks in (default ./runs)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("sweep", help="try settings with Optuna; every trial is a recorded run")
    p.add_argument("file", help="a document (.json), a bundle (.ncz) or a preset's name")
    p.add_argument("--param", action="append", default=[], metavar="PATH=VALUES",
                   help="training.optimizer.lr=1e-4,1e-3 or fc1.out_features=16:256 or 1e-4:1e-1:log")
    p.add_argument("--trials", type=int, default=0, help="trials to finish (default: 10; grid: every point)")
    p.add_argument("--search", choices=("grid", "random", "tpe"), default="tpe")
    p.add_argument("--metric", help="the final metric to optimize, e.g. test_accuracy or val_loss")
    p.add_argument("--direction", choices=("max", "min"), help="default: min for a loss, else max")
    p.add_argument("--jobs", type=int, default=1, help="trials in parallel processes on this machine")
    p.add_argument("--storage", help="an Optuna storage URL (default: SQLite in the sweep's folder)")
    p.add_argument("--join", metavar="NAME", help="join the running sweep NAME in --storage")
    p.add_argument("--name", help="the sweep's name (default: the document and a hash of the definition)")
    p.add_argument("--runs", metavar="DIR", help=runs_help)
    p.add_argument("--epochs", type=int, help="override training.epochs in every trial")
    p.add_argument("--seed", type=int, help="override training.seed in every trial (and seed the search)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--no-prune", action="store_true", help="never stop a trial early")
    p.add_argument("--quiet", action="store_true", help="print only the results table")
    p.add_argument("--no-table", action="store_true", help=argparse.SUPPRESS)  # a --jobs worker
    p.add_argument("--worker-trials", type=int, help=argparse.SUPPRESS)  # that worker's share
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run_command(args: argparse.Namespace) -> int:
    return {"runs": _runs, "sweep": _sweep}[args.command](args)


def _runs(args: argparse.Namespace) -> int:
    from engine.runs.compare import diff_runs, format_diff, format_table, runs_table
    from engine.runs.store import find_run, list_runs

    words = list(args.words)
    if words and words[0] == "diff":
        if len(words) != 3:
            raise NetCanvasError("usage: netcanvas runs diff A B [--dir DIR]")
        root = args.dir or "runs"
        diff = diff_runs(find_run(root, words[1]), find_run(root, words[2]))
        print(json.dumps(diff, indent=2, default=str) if args.json else format_diff(diff))
        return 0
    if len(words) > 1:
        raise NetCanvasError("usage: netcanvas runs [DIR] [--json]")
    root = Path(words[0] if words else args.dir or "runs")
    if not root.is_dir():
        raise NetCanvasError(f"{root}: no run store here (train something, or name the folder)")
    rows = runs_table(list_runs(root))
    print(json.dumps(rows, indent=2, default=str) if args.json else format_table(rows))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from engine.runs.store import default_runs_dir
    from engine.runs.sweep import SweepPlan, format_results, load_definition, results, run_sweep

    runs = args.runs or str(default_runs_dir(args.file))
    if args.join:
        if not args.storage:
            raise NetCanvasError("--join NAME needs --storage URL (where the sweep's study lives)")
        plan = SweepPlan(file=args.file, name=args.join, storage=args.storage, runs=runs, joined=True,
                         **load_definition(args.join, args.storage))
    else:
        if not args.metric:
            raise NetCanvasError("a sweep needs --metric NAME (e.g. test_accuracy or val_loss)")
        direction = args.direction or ("min" if "loss" in args.metric else "max")
        plan = SweepPlan(file=args.file, params=args.param, metric=args.metric, direction=direction,
                         search=args.search, trials=args.trials or (0 if args.search == "grid" else 10),
                         epochs=args.epochs, seed=args.seed, device=args.device, name=args.name or "",
                         runs=runs, storage=args.storage or "", prune=not args.no_prune)
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    study = run_sweep(plan, max(1, args.jobs), say, quota=args.worker_trials)
    if args.no_table:
        return 0
    rows = results(study, plan)
    if args.json:
        print(json.dumps({"sweep": plan.name, "storage_folder": str(plan.folder), "trials": rows}, indent=2))
    else:
        print(f"sweep {plan.name}: {len(rows)} trials, best first ({plan.direction} {plan.metric})")
        print(format_results(rows, plan))
    return 0
