"""A run trained by the training host (engine/training/host.py), seen as a trainer.

The GUI's TrainingController iterates `ChildRun.run()` on its worker thread
exactly as it would a trainer's events, and calls pause/resume/stop/watch from
the GUI thread; each becomes a line to the host. The trained weights, metrics
and resume state come back in a bundle the host writes before its last event
and are put on `doc`, the copy the GUI handed over: the "trained copy" is what
an in-process run would have left.

One host is kept ready (`prepare_host`, called as the window opens), so the
first Run does not wait for torch to import; after a run its host becomes the
spare again. A host that died or was killed is never reused.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.document import Document
from engine.errors import NetCanvasError
from engine.training.event_stream import decode_many
from engine.training.events import Event, Failed, Finished

ERROR_LINES = 40  # the host's stderr lines kept to explain its death


class TrainingHost:
    """One `python -m engine.training.host` process and its pipes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.training.host"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            bufsize=1)
        self.errors: deque[str] = deque(maxlen=ERROR_LINES)
        self._send_lock = threading.Lock()
        threading.Thread(target=self._relay_errors, name="netcanvas-host-stderr",
                         daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, command: dict) -> bool:
        """One command line; False when the host is gone."""
        with self._send_lock:
            try:
                self.process.stdin.write(json.dumps(command) + "\n")  # type: ignore[union-attr]
                self.process.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):  # a broken pipe, or stdin already closed
                return False
        return True

    def events(self) -> Iterator[Event]:
        """The run's events up to its last (Finished or Failed); a Failed if the host dies."""
        for line in self.process.stdout:  # type: ignore[union-attr]
            if not line.startswith("{"):
                continue
            for event in decode_many(line):
                yield event
                if isinstance(event, Finished | Failed):
                    return
        yield Failed(self.death_message(self.process.wait()))

    def death_message(self, code: int) -> str:
        if code < 0:
            name = signal.Signals(-code).name
            why = f"was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
        else:
            why = f"exited with code {code}"
        last = next((line for line in reversed(self.errors) if line.strip()), "")
        return f"the training process {why}" + (f": {last.strip()}" if last else "")

    def release(self) -> None:
        """End of input: the host stops any run and exits by itself (no wait here)."""
        with self._send_lock:
            try:
                self.process.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()

    def _relay_errors(self) -> None:
        """Keep the tail (for a death message) and pass every line on, as an in-process run's;
        at the host's end, reap it (a released host is never waited for otherwise)."""
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.errors.append(line)
            try:
                sys.stderr.write(line)
            except (OSError, ValueError):
                pass
        self.process.wait()


_spare: TrainingHost | None = None
_spare_lock = threading.Lock()


def prepare_host() -> None:
    """Start a host now if none is ready: torch imports in it while the person builds."""
    global _spare
    with _spare_lock:
        if _spare is None or not _spare.alive():
            _spare = TrainingHost()


def take_host() -> TrainingHost:
    global _spare
    with _spare_lock:
        host, _spare = _spare, None
    return host if host is not None and host.alive() else TrainingHost()


def return_host(host: TrainingHost) -> None:
    """The host serves the next run, or is closed when one is already spare or it died."""
    global _spare
    with _spare_lock:
        if _spare is None and host.alive():
            _spare = host
            return
    host.release()


@atexit.register
def _close_spare() -> None:
    global _spare
    with _spare_lock:
        host, _spare = _spare, None
    if host is not None:
        host.release()  # quitting never waits on a host still importing torch


class ChildRun:
    """Trainer-shaped: `run()` yields the host's events; controls may come from any thread."""

    def __init__(self, doc: Document, options: Any) -> None:
        self.doc, self.options = doc, options
        self.step = 0
        self._lock = threading.Lock()
        self._host: TrainingHost | None = None
        self._controls: list[dict] = []  # asked before the run went to the host

    def pause(self) -> None:
        self._control({"command": "pause"})

    def resume(self) -> None:
        self._control({"command": "resume"})

    def stop(self) -> None:
        self._control({"command": "stop"})

    def watch(self, node_ids: Any) -> None:
        self._control({"command": "watch", "nodes": list(node_ids)})

    def kill(self) -> None:
        """For a window closing on a run that did not stop in time."""
        with self._lock:
            host = self._host
        if host is not None:
            host.kill()

    def _control(self, command: dict) -> None:
        with self._lock:
            if self._host is None:
                self._controls.append(command)
            else:
                self._host.send(command)

    def run(self) -> Iterator[Event]:
        with tempfile.TemporaryDirectory(prefix="netcanvas-run-") as folder:
            try:
                job = self._job(Path(folder))
            except (OSError, TypeError, ValueError, NetCanvasError) as exc:
                yield Failed(f"could not hand the document to the training process: {exc}")
                return
            try:
                host = take_host()
            except OSError as exc:
                yield Failed(f"could not start the training process ({sys.executable}): {exc}")
                return
            with self._lock:
                for command in (job, *self._controls):
                    host.send(command)  # a dead host shows in its events
                self._controls.clear()
                self._host = host
            final = None
            try:
                for event in host.events():
                    if isinstance(event, Finished | Failed):
                        final = event
                        break
                    self.step = getattr(event, "step", self.step)
                    yield event
            finally:
                with self._lock:
                    self._host = None
                if final is None:  # abandoned mid-run: that host is not fit to serve again
                    host.kill()
            final = self._take_back(Path(job["out"]), final)
        return_host(host)
        yield final

    def _job(self, folder: Path) -> dict:
        """Write the document for the host (a bundle when it carries weights) and describe the run."""
        from engine.bundle import save_bundle
        from engine.readwrite import document_bytes

        doc = self.doc
        file = folder / ("job.ncz" if doc.weights or doc.train_state else "job.json")
        if file.suffix == ".ncz":
            save_bundle(doc, None, file)
        else:  # not save_document: that would make the job file the copy's own path
            file.write_bytes(document_bytes(doc))
        options = {f.name: getattr(self.options, f.name) for f in dataclasses.fields(self.options)}
        options["watch"] = list(options.get("watch") or ())
        job = {"command": "run", "file": str(file), "out": str(folder / "trained.ncz"),
               "path": doc.path, "options": options,
               "env": dict(os.environ), "cwd": os.getcwd()}
        json.dumps(job)  # refuse options that are not plain data here, with the reason
        return job

    def _take_back(self, out: Path, final: Event) -> Event:
        """The trained weights, metrics and resume state onto `doc`, as a trainer leaves them."""
        if not out.exists():
            return final
        from engine.bundle import load_bundle

        try:
            trained = load_bundle(out)
        except (OSError, NetCanvasError) as exc:
            return Failed(f"could not read the trained model back from the training process: {exc}")
        self.doc.weights, self.doc.metrics = trained.weights, trained.metrics
        self.doc.train_state = trained.train_state
        return final
