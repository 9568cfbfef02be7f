"""The training host: a child process that trains the GUI's runs, one after another.

Why a process: trained in a thread of the GUI's process, a run shared one
interpreter (one GIL) and two cores with the window, and reached only
0.6-0.7x the samples per second of `netcanvas train` (docs/responsiveness.md).
Here the trainer has the interpreter to itself and uses the cores as the CLI
does; the GUI only decodes events. The host stays up between runs, so torch
is imported once per session, not once per Run (engine/training/child_run.py
keeps one ready).

Protocol, one JSON object per line:

    stdin   {"command": "run", "file": DOC, "out": BUNDLE, "path": ORIGINAL,
             "options": {RunOptions fields}, "env": {...}, "cwd": DIR}
            {"command": "pause"} | {"command": "resume"} | {"command": "stop"}
            {"command": "watch", "nodes": [node ids]}
    stdout  the run's events (event_stream.encode); the last, Finished or Failed,
            comes after the trained document was written to BUNDLE.

A control applies to the run most recently asked for, even one still loading
its data. End of stdin (the GUI closed, or died) stops the run and ends the
process, so no orphan goes on training. Anything a library prints goes to
stderr: stdout carries events only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

# Events gather this long into one write. Each write wakes the GUI's reader, and each wake-up
# of either side takes a core from a torch thread mid-operation (the other then waits for it):
# 25 writes a second instead of one per step kept GUI runs near the CLI's speed on 2 cores.
FLUSH_EVERY_S = 0.04
# The window is served first whenever it wants a core (a repaint, a menu): at the same
# priority, the GUI thread waited behind two busy torch threads for up to 60 ms. The GUI is
# busy ~10-15 % of a run, and a machine with nothing else to do gives the rest to training.
NICENESS = 10


class EventWriter:
    """Encodes and writes events on its own thread: the training loop only appends."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending: deque = deque()
        self.ready = threading.Condition()
        self.written = threading.Condition()
        self.queued = self.done = 0
        threading.Thread(target=self._write_forever, name="netcanvas-events", daemon=True).start()

    def put(self, event: Any) -> None:
        with self.ready:
            self.pending.append(event)
            self.queued += 1
            self.ready.notify()

    def flush(self) -> None:
        """Wait until everything put so far is on the pipe."""
        with self.written:
            self.written.wait_for(lambda: self.done >= self.queued)

    def _write_forever(self) -> None:
        from engine.training.event_stream import encode_many

        while True:
            with self.ready:
                self.ready.wait_for(lambda: self.pending)
                batch = list(self.pending)
                self.pending.clear()
            try:
                self.stream.write(encode_many(batch))
                self.stream.flush()
            except (BrokenPipeError, OSError):
                os._exit(0)  # the GUI is gone: nobody is left to train for
            with self.written:
                self.done += len(batch)
                self.written.notify_all()
            time.sleep(FLUSH_EVERY_S)


class Host:
    """Runs jobs from a queue on the main thread; controls arrive on the reader thread."""

    def __init__(self, writer: EventWriter) -> None:
        import torch

        self.writer = writer
        self.default_threads = torch.get_num_threads()  # torch's choice, as `netcanvas train`'s
        self.jobs: queue.Queue[dict | None] = queue.Queue()
        self.lock = threading.Lock()
        self.trainer: Any = None
        # What was asked of the newest run, applied when its trainer exists.
        self.wish = {"paused": False, "stopped": False, "watch": []}

    # ---- the reader thread ----------------------------------------------------------

    def read_commands(self, stream: TextIO) -> None:
        for line in stream:
            try:
                command = json.loads(line)
            except json.JSONDecodeError:
                print(f"training host: ignored a line that is not JSON: {line[:80]!r}", file=sys.stderr)
                continue
            self.command(command)
        self.command({"command": "stop"})  # end of input: the GUI is gone
        self.jobs.put(None)

    def command(self, command: dict) -> None:
        kind = command.get("command")
        with self.lock:
            if kind == "run":
                watch = list(command.get("options", {}).get("watch") or [])
                self.wish = {"paused": False, "stopped": False, "watch": watch}
                self.jobs.put(command)
                return
            if kind in ("pause", "resume", "stop"):
                self.wish["paused"] = kind == "pause"
                self.wish["stopped"] = self.wish["stopped"] or kind == "stop"
            elif kind == "watch":
                self.wish["watch"] = list(command.get("nodes") or [])
            self._apply()

    def _apply(self) -> None:
        """Hand the wishes to the trainer (under the lock)."""
        trainer = self.trainer
        if trainer is None:
            return
        trainer.watch(self.wish["watch"])
        if self.wish["stopped"]:
            trainer.stop()
        elif self.wish["paused"]:
            trainer.pause()
        else:
            trainer.resume()

    # ---- the main thread ------------------------------------------------------------

    def serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            self.writer.put(self.run_job(job))
            self.writer.flush()

    def run_job(self, job: dict) -> Any:
        """Train one document; returns its last event, once the trained copy is written."""
        import torch

        from engine.errors import NetCanvasError
        from engine.training import Failed, Finished, make_trainer

        if "env" in job:  # the GUI's environment at Run (cache folders, data paths)
            os.environ.clear()
            os.environ.update(job["env"])
        # Each run starts from torch's default, as `netcanvas train` does; RunOptions.threads
        # (or, unasked, the run's own sizing: threads.py) decides from there.
        torch.set_num_threads(self.default_threads)
        try:
            os.chdir(job.get("cwd") or ".")
            doc = job_document(job)
            trainer = make_trainer(doc, run_options(job.get("options", {})))
        except (NetCanvasError, OSError) as exc:
            return Failed(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bad job fails its run, never the host
            return Failed(f"the training could not be set up: {type(exc).__name__}: {exc}")
        with self.lock:
            self.trainer = trainer
            self._apply()
        final: Any = Failed("training ended without reporting a result")
        try:
            for event in trainer.run():
                if isinstance(event, Finished | Failed):
                    final = event
                else:
                    self.writer.put(event)
        finally:
            with self.lock:
                self.trainer = None
        return hand_back(doc, Path(job["out"]), final)


def job_document(job: dict) -> Any:
    """The document to train: a bundle when it carries weights to resume from."""
    from engine import load_document
    from engine.bundle import load_bundle

    file = Path(job["file"])
    doc = load_bundle(file) if file.suffix == ".ncz" else load_document(file)
    doc.path = job.get("path")  # relative data paths are the original document's folder's
    return doc


def run_options(fields: dict) -> Any:
    from engine.training import RunOptions

    known = {f.name for f in dataclasses.fields(RunOptions)}
    return RunOptions(**{k: v for k, v in fields.items() if k in known})


def hand_back(doc: Any, out: Path, final: Any) -> Any:
    """Write the trained document for the GUI; a write that fails is the run's failure."""
    from engine.bundle import save_bundle
    from engine.training import Failed

    try:
        save_bundle(doc, None, out)
    except Exception as exc:  # noqa: BLE001 - a full disk, an unwritable temp folder
        why = f"could not hand the trained model back through {out}: {exc}"
        if isinstance(final, Failed):
            return dataclasses.replace(final, message=f"{final.message} ({why})")
        return Failed(why, getattr(final, "step", None))
    return final


def claim_stdout() -> TextIO:
    """A private stream on what was stdout, for events only; fd 1 then goes to stderr, so
    whatever a library prints can never land between two events."""
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return events


def main() -> int:
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    events = claim_stdout()
    # torch, the trainers, the bundle and what the first optimizer step imports (torch._dynamo,
    # seconds) load before any job: the first Run need not wait for them.
    import torch._dynamo  # noqa: F401

    import engine.bundle  # noqa: F401
    import engine.training.registry  # noqa: F401

    host = Host(EventWriter(events))
    threading.Thread(target=host.read_commands, args=(sys.stdin,), name="netcanvas-commands",
                     daemon=True).start()
    host.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
