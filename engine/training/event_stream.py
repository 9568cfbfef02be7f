"""Training events as JSON lines, and a run in child processes that reads them back.

Every GUI run trains in a child process and speaks this language on a pipe:
one run through the training host (engine/training/host.py), an N-process
training (`training.processes` > 1) as `torchrun ... -m
engine.training.distributed FILE --events`, whose rank 0 prints each event as
one JSON line. The GUI's worker thread decodes the lines into the same
dataclasses, so the heavy training never shares the GUI's interpreter. Numpy
arrays (activations, samples) travel as base64, a graph attention capture as
its fields. JSON rather than pickle: what comes down the pipe is only ever data.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.document import Document
from engine.training import events as ev
from engine.training.graph_attention import EdgeAttention

EVENT_TYPES = {cls.__name__: cls for cls in (ev.Started, ev.Step, ev.Epoch, ev.Episode,
                                             ev.Activations, ev.Samples, ev.Checkpoint,
                                             ev.Notice, ev.Finished, ev.Failed)}


def _plain(value: Any) -> Any:
    if isinstance(value, EdgeAttention):
        return {"__edge_attention__": {f.name: _plain(getattr(value, f.name))
                                       for f in dataclasses.fields(value)}}
    if isinstance(value, np.ndarray):
        return {"__array__": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
                "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict) and "__edge_attention__" in value:
        return EdgeAttention(**_restored(value["__edge_attention__"]))
    if isinstance(value, dict) and "__array__" in value:
        raw = base64.b64decode(value["__array__"])
        return np.frombuffer(raw, value["dtype"]).reshape(value["shape"]).copy()
    if isinstance(value, dict):
        return {k: _restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restored(v) for v in value]
    return value


def encode(event: ev.Event) -> str:
    """One JSON line (no newline) for an event."""
    fields = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return json.dumps({"type": type(event).__name__, **fields}, allow_nan=True)


def decode(line: str) -> ev.Event:
    """The event `encode` wrote."""
    raw = json.loads(line)
    cls = EVENT_TYPES[raw.pop("type")]
    return cls(**{k: _restored(v) for k, v in raw.items()})


STEP_COLUMNS = ("step", "epoch", "loss", "lr", "samples_per_s", "progress")


def encode_many(events: list[ev.Event]) -> str:
    """JSON lines for events in order, each ending in a newline; a run of plain Steps (no
    per-network losses) goes as one line of columns: a trainer making thousands of steps a
    second then costs both ends one line per run instead of one per step."""
    lines, steps = [], []
    for event in events:
        if isinstance(event, ev.Step) and not event.losses:
            steps.append(event)
            continue
        if steps:
            lines.append(_step_columns(steps))
            steps = []
        lines.append(encode(event))
    if steps:
        lines.append(_step_columns(steps))
    return "".join(line + "\n" for line in lines)


def _step_columns(steps: list[ev.Step]) -> str:
    if len(steps) == 1:
        return encode(steps[0])
    columns = {name: [getattr(step, name) for step in steps] for name in STEP_COLUMNS}
    return json.dumps({"type": "Steps", **columns}, allow_nan=True)


def decode_many(line: str) -> list[ev.Event]:
    """The events one line of `encode_many` holds."""
    if not line.startswith('{"type": "Steps"'):
        return [decode(line)]
    raw = json.loads(line)
    return [ev.Step(*values) for values in zip(*(raw[name] for name in STEP_COLUMNS), strict=True)]


class ProcessRun:
    """A trainer-shaped run in child processes: `run()` yields rank 0's events.

    Pause is not available across processes (the ranks wait on each other);
    stop ends the child processes, and the run reports it stopped with the
    weights it started from.
    """

    def __init__(self, doc: Document, processes: int, options: Any = None) -> None:
        self.doc, self.processes, self.options = doc, processes, options
        self.step = 0
        self.child: subprocess.Popen | None = None
        self._stopped = False

    def pause(self) -> None:
        """Not available across processes."""

    def resume(self) -> None:
        """Not available across processes."""

    def watch(self, node_ids: Any) -> None:
        """Activations are not streamed from child processes."""

    def stop(self) -> None:
        self._stopped = True
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()

    def command(self, file: Path, out: Path) -> list[str]:
        argv = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={self.processes}",
                "--standalone", "-m", "engine.training.distributed", str(file), "--events",
                "--out", str(out), "--quiet"]
        for flag in ("epochs", "seed", "device"):
            value = getattr(self.options, flag, None)
            argv += [f"--{flag}", str(value)] if value is not None else []
        return argv

    def run(self) -> Iterator[ev.Event]:
        from engine.bundle import load_bundle
        from engine.readwrite import save_document

        with tempfile.TemporaryDirectory(prefix="netcanvas-run-") as tmp:
            file, out = Path(tmp) / "run.json", Path(tmp) / "out"
            if "dataset" in self.doc.training:  # relative data paths are the document's folder's
                from engine.data import data_folder, resolved_spec

                self.doc.training["dataset"] = resolved_spec(self.doc.training,
                                                             data_folder(self.doc))
            save_document(self.doc, file)
            self.child = subprocess.Popen(self.command(file, out), stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
            final: ev.Event | None = None
            for line in self.child.stdout:  # type: ignore[union-attr]
                if not line.startswith("{"):
                    continue
                event = decode(line)
                if isinstance(event, ev.Finished | ev.Failed):
                    final = event
                    continue
                self.step = getattr(event, "step", self.step)
                yield event
            errors = self.child.stderr.read()  # type: ignore[union-attr]
            self.child.wait()
            bundle = out / "run.ncz"
            if bundle.exists():
                trained = load_bundle(bundle)
                self.doc.weights, self.doc.metrics = trained.weights, trained.metrics
                self.doc.train_state = trained.train_state
            if final is None:
                why = "stopped" if self._stopped else (errors.strip().splitlines() or ["?"])[-1]
                final = ev.Finished({}, True, 0.0) if self._stopped else ev.Failed(
                    f"the {self.processes}-process run ended without a result: {why}")
            yield final
