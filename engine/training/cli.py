"""`netcanvas train`: the same trainer the GUI drives, with a text progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from engine.training.events import Episode, Epoch, Failed, Finished, Notice, Started, Step


class ProgressBar:
    """A one-line bar with ETA and the live loss, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.began = time.monotonic()
        self.drawn = 0.0
        self.unit = "epoch"
        self.total = 0
        self.last_loss: float | None = None
        self.last_reward: float | None = None
        # Redirected to a file or a CI log: a line per tenth of the run, not a redrawn bar.
        self.tty = stream.isatty()
        self.tenths_shown = -1

    def started(self, event: Started) -> None:
        self.unit = "episode" if event.task in ("dqn", "q_learning") else "epoch"
        self.total = event.total_epochs
        self.line(f"training '{event.task}' on {event.device}: "
                  + ", ".join(f"{n} {p:,} parameters" for n, p in event.parameters.items()))
        for note in event.notes:
            self.line(f"note: {note}")

    def update(self, progress: float, counter: int, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not force and now - self.drawn < 0.1):
            return
        tenths = int(progress * 10)
        if not self.tty and tenths == self.tenths_shown:
            return
        self.drawn, self.tenths_shown = now, tenths
        elapsed = now - self.began
        eta = elapsed / progress * (1 - progress) if progress > 0 else 0.0
        filled = int(progress * 30)
        extra = f"loss {self.last_loss:.4g}" if self.last_loss is not None else ""
        if self.last_reward is not None:
            extra = f"reward {self.last_reward:.1f}"
        start, end = ("\r", "") if self.tty else ("", "\n")
        self.stream.write(
            f"{start}[{'#' * filled}{'.' * (30 - filled)}] {progress:6.1%} "
            f"{self.unit} {counter}/{self.total}  {extra}  ETA {_duration(eta)}   {end}"
        )
        self.stream.flush()

    def line(self, text: str) -> None:
        if not self.quiet:
            self.stream.write("\r" + text + " " * 10 + "\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _format_metrics(metrics: dict) -> str:
    scalars = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    return ", ".join(f"{k} {v:.4g}" for k, v in scalars.items())


def train_options(args: argparse.Namespace, doc: Any, checkpoint: str | None = None) -> Any:
    """The `train` command's overrides as RunOptions: every rank of a torchrun job makes the
    same from the same arguments (a bundle with a resume state continues it)."""
    from engine.training import RunOptions

    return RunOptions(device=args.device, seed=args.seed, epochs=args.epochs,
                      resume=bool(doc.train_state), checkpoint_path=checkpoint,
                      checkpoint_every=getattr(args, "checkpoint_every", None) or 1,
                      precision=getattr(args, "precision", None),
                      compile=getattr(args, "compile", None),
                      threads=getattr(args, "threads", None))


def run_train(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr  # looked up now: tests swap them
    from engine import load_document
    from engine.bundle import save_run
    from engine.runs.recorder import RunRecorder
    from engine.runs.store import default_runs_dir
    from engine.training import make_trainer

    doc = load_document(args.file)
    target = Path(args.out) / f"{Path(args.file).stem.removesuffix('.ncz')}.ncz"
    every = getattr(args, "checkpoint_every", None)
    options = train_options(args, doc, checkpoint=str(target) if every else None)
    bar = ProgressBar(err, args.quiet)
    result: Finished | Failed | None = None
    trainer = make_trainer(doc, options)
    # The run store's recorder also writes the overrides into doc.training, so the bundle says them.
    recorder = RunRecorder(getattr(args, "runs", None) or default_runs_dir(args.file), doc, options,
                           source="cli", document_file=args.file)
    with recorder:  # a crash here still leaves the run recorded as failed
        for event in recorder.watch(trainer.run()):
            if isinstance(event, Started):
                bar.started(event)
            elif isinstance(event, Step):
                bar.last_loss = event.loss
                bar.update(event.progress, event.epoch)
            elif isinstance(event, Episode):
                bar.last_reward = event.reward
                bar.update(event.progress, event.episode)
            elif isinstance(event, Epoch):
                bar.update(event.progress, event.epoch, force=True)
                bar.line(f"epoch {event.epoch}: train {_format_metrics(event.train)}; "
                         f"val {_format_metrics(event.val)}")
            elif isinstance(event, Notice):
                bar.line(f"note: {event.message}")
            elif isinstance(event, Finished | Failed):
                result = event
    if doc.weights:  # the run's weights are never lost to a save error: see save_run
        target, problem = save_run(doc, target)
        if problem:
            print(f"netcanvas train: {problem}; the run was saved to {target} instead", file=err)
    if getattr(args, "json", False):  # `--json`: one machine-readable final line on stdout
        _print_json(result, target if doc.weights else None, out, recorder.folder)
    if isinstance(result, Failed):
        kept = f" (last good weights saved to {target})" if doc.weights else ""
        print(f"netcanvas train: {result.message}{kept}", file=err)
        return 1
    assert isinstance(result, Finished)
    if getattr(args, "json", False):
        return 0
    state = "stopped early" if result.stopped else "done"
    print(f"{state} in {_duration(result.seconds)}: {_format_metrics(result.metrics)}", file=out)
    print(f"saved {target}", file=out)
    print(f"run recorded in {recorder.folder}", file=out)
    return 0


def _print_json(result: Finished | Failed | None, bundle: Path | None, out: TextIO, run: Path) -> None:
    import json
    import numbers

    line = {"ok": isinstance(result, Finished), "bundle": str(bundle) if bundle else None, "run": str(run)}
    if isinstance(result, Finished):
        line.update(stopped=result.stopped, seconds=round(result.seconds, 3),
                    metrics={k: v if isinstance(v, int) else float(v)
                             for k, v in result.metrics.items() if isinstance(v, numbers.Real)})
    elif isinstance(result, Failed):
        line["error"] = result.message
    print(json.dumps(line), file=out)
