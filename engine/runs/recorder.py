"""The one consumer of a trainer's events that records a run in the store.

The CLI, the GUI's worker thread and every sweep trial wrap the trainer's
event stream in `RunRecorder.watch`; no trainer knows it is being recorded.
The training thread only appends events to a list: a writer thread turns them
into `metrics.csv` rows and TensorBoard scalars at each epoch's end (or every
few seconds within a long epoch), so logging costs the loop nothing it could
measure (benchmarks/run_store_overhead.py).

`run.json` is written as "running" before the first step and rewritten when
the run ends: finished, stopped, failed or diverged, with why. A process that
is killed leaves "running", which the store reads as crashed once the process
is gone; an exception in the consumer marks the run failed.
"""

from __future__ import annotations

import platform
import queue
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.document import Document
from engine.runs.csvlog import CsvLog
from engine.runs.settings import apply_overrides, flatten
from engine.runs.store import METRICS_FILE, RUN_FILE, new_run_folder, write_json
from engine.training.events import Episode, Epoch, Failed, Finished, Started, Step

FLUSH_EVERY_S = 5.0  # within a long epoch, rows reach the disk at least this often
_CHECK_EVERY = 64  # steps between looks at the clock
LEFT = "the program stopped listening to the run"
TB_STEPS_PER_EPOCH = 100  # TensorBoard shows about this many step points per epoch; each costs a protobuf


class RunRecorder:
    """Records one run into a new folder of the store at `root`."""

    def __init__(self, root: str | Path, doc: Document, options: Any = None, *,
                 source: str = "cli", sweep: dict[str, Any] | None = None,
                 document_file: str | None = None, tensorboard: bool = True) -> None:
        apply_overrides(doc, options)
        self.doc = doc
        self.options = options
        self.file = document_file or doc.path
        stem = Path(self.file).name.removesuffix(".ncz").removesuffix(".json") if self.file else doc.name
        self.bundle_name = f"{stem}.ncz"
        self.folder = new_run_folder(Path(root), stem)
        self.outcome: tuple[str, str] | None = None  # (status, why): a sweep's "pruned"
        self.closed = False
        self._began = time.time()
        self._clock = time.monotonic()
        self._buffer: list[tuple[float, Any]] = []
        self._next_flush = self._clock + FLUSH_EVERY_S
        self._stride = 1  # steps between TensorBoard step points (metrics.csv has every step)
        self.record = self._initial_record(source, sweep)
        write_json(self.folder / RUN_FILE, self.record)
        self._writer = _Writer(self.folder, flatten(self.record["hparams"]), tensorboard)

    @property
    def id(self) -> str:
        return self.folder.name

    def _initial_record(self, source: str, sweep: dict[str, Any] | None) -> dict[str, Any]:
        from engine import __version__
        from engine.readwrite import document_to_dict

        training = self.doc.training
        hparams = {k: v for k, v in flatten(training).items() if not k.startswith("dataset.")}
        dataset = training.get("dataset")
        hparams["dataset"] = str(dataset.get("name", "") if isinstance(dataset, dict) else dataset or "")
        if sweep:
            hparams.update(sweep.get("params", {}))
        return {
            "format": "netcanvas-run", "version": 1, "id": self.folder.name,
            "document_name": self.doc.name, "document_file": str(self.file) if self.file else None,
            "source": source, "sweep": sweep, "status": "running", "reason": "",
            "started_at": self._began, "ended_at": None,
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self._began)),
            "settings": {"task": training.get("task"), "seed": training.get("seed", 0),
                         "epochs": training.get("epochs"), "device": training.get("device", "auto"),
                         "precision": training.get("precision", "fp32")},
            "hparams": hparams,
            "versions": _versions(__version__),
            "process": {"pid": _pid(), "host": socket.gethostname()},
            "metrics": {}, **_costs(self.doc),
            "bundle": None, "document": document_to_dict(self.doc),
        }

    # ---- the event stream ----------------------------------------------------------

    def watch(self, events: Iterable[Any]) -> Iterator[Any]:
        """Pass every event through, recording it; whatever ends the stream ends the run."""
        try:
            for event in events:
                self.consume(event)
                yield event
        except GeneratorExit:  # the consumer broke off (or crashed: __exit__ then says failed)
            self.close("stopped", LEFT)
            raise
        except BaseException as exc:
            self.close("failed", f"{type(exc).__name__}: {exc}".rstrip(": "))
            raise
        finally:
            if not self.closed:
                self.close("failed", "the run ended without saying how")

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> None:
        """A crash in the code consuming the events marks the run failed, with what was logged."""
        if exc is None:
            return
        why = f"{kind.__name__}: {exc}".rstrip(": ")
        if not self.closed:
            self.close("failed", why)
        elif self.record["reason"] == LEFT:  # the generator was closed as the exception unwound
            self.record.update(status="failed", reason=why)
            write_json(self.folder / RUN_FILE, self.record)

    def consume(self, event: Any) -> None:
        """One event; the Step branch is the hot path and only appends."""
        if isinstance(event, Step):
            self._buffer.append((time.monotonic(), event))
            if not event.step % _CHECK_EVERY and time.monotonic() > self._next_flush:
                self.flush()
        elif isinstance(event, Epoch | Episode):
            self._buffer.append((time.monotonic(), event))
            if isinstance(event, Epoch) or time.monotonic() > self._next_flush:
                self.flush()
        elif isinstance(event, Started):
            self._started(event)
        elif isinstance(event, Finished):
            status = "stopped" if event.stopped else "finished"
            self.close(*(self.outcome or (status, "stopped before the last epoch" if event.stopped else "")),
                       metrics=event.metrics)
        elif isinstance(event, Failed):
            self.close("diverged" if event.diverged else "failed", event.message,
                       metrics=self.doc.metrics)

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread."""
        if self._buffer:
            rows, self._buffer = self._buffer, []
            self._writer.put(("rows", rows, self._clock, self._stride))
        self._next_flush = time.monotonic() + FLUSH_EVERY_S

    def _started(self, event: Started) -> None:
        settings = self.record["settings"]
        settings.update(device=event.device, epochs=event.total_epochs, start_epoch=event.start_epoch,
                        steps_per_epoch=event.steps_per_epoch)
        settings["seed"] = self.doc.training.get("seed", 0)
        self._stride = max(1, event.steps_per_epoch // TB_STEPS_PER_EPOCH)
        self.record["trainable_parameters"] = dict(event.parameters)
        write_json(self.folder / RUN_FILE, self.record)

    # ---- the end ---------------------------------------------------------------------

    def close(self, status: str, reason: str = "", metrics: dict[str, Any] | None = None) -> None:
        """Write everything logged, the bundle and the final run.json; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.flush()
        scalars = _scalars(metrics or {})
        self.record.update(status=status, reason=reason, ended_at=time.time(), metrics=scalars)
        try:
            self._save_bundle()
        finally:
            self._writer.put(("end", scalars))
            self._writer.join()
            write_json(self.folder / RUN_FILE, self.record)

    def _save_bundle(self) -> None:
        if not self.doc.weights:
            return
        from engine.bundle import save_bundle

        save_bundle(self.doc, None, self.folder / self.bundle_name, metrics=self.doc.metrics,
                    train_state=self.doc.train_state)
        self.record["bundle"] = self.bundle_name


class _Writer(threading.Thread):
    """Owns metrics.csv and the TensorBoard writer; fed through a queue, never blocks training."""

    def __init__(self, folder: Path, hparams: dict[str, Any], tensorboard: bool) -> None:
        super().__init__(name="netcanvas-run-writer", daemon=True)
        self.folder = folder
        self.hparams = {k: v for k, v in hparams.items() if isinstance(v, int | float | str | bool)}
        self.tensorboard = tensorboard
        self.inbox: queue.Queue = queue.Queue()
        self.csv = CsvLog(folder / METRICS_FILE)
        self.board: Any = None
        self.start()

    def put(self, item: tuple) -> None:
        self.inbox.put(item)

    def run(self) -> None:
        if self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard missing from an install: metrics.csv still has it all
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self.board = SummaryWriter(log_dir=str(self.folder), flush_secs=FLUSH_EVERY_S)
        while True:
            item = self.inbox.get()
            if item[0] == "end":
                self._end(item[1])
                return
            self._rows(*item[1:])

    def _rows(self, events: list[tuple[float, Any]], clock: float, stride: int) -> None:
        rows = [_row(event, stamp - clock) for stamp, event in events]
        self.csv.append(rows)
        if self.board is None:
            return
        for row in rows:
            kind, x = row["kind"], row["step"] if row["kind"] == "step" else row["epoch"]
            if kind == "step" and x % stride:
                continue
            for key, value in row.items():
                if key not in ("kind", "step", "epoch", "time", "episode") and isinstance(value, int | float):
                    self.board.add_scalar(_tag(kind, key), value, x)

    def _end(self, metrics: dict[str, float]) -> None:
        if self.board is None:
            return
        from torch.utils.tensorboard.summary import hparams

        final = {f"final/{k}": v for k, v in metrics.items()}
        for summary in hparams(self.hparams, final):
            self.board.file_writer.add_summary(summary)
        for tag, value in final.items():
            self.board.add_scalar(tag, value, 0)
        self.board.close()


def _row(event: Any, seconds: float) -> dict[str, Any]:
    if isinstance(event, Step):
        row = {"kind": "step", "step": event.step, "epoch": event.epoch, "time": round(seconds, 4),
               "loss": event.loss, "lr": event.lr, "samples_per_s": event.samples_per_s}
        row.update({f"loss_{k}": v for k, v in event.losses.items()})
        return row
    if isinstance(event, Epoch):
        row = {"kind": "epoch", "step": "", "epoch": event.epoch, "time": round(seconds, 4)}
        row.update({f"train_{k}": v for k, v in event.train.items()})
        row.update({f"val_{k}": v for k, v in event.val.items()})
        return row
    row = {"kind": "episode", "step": "", "epoch": event.episode, "time": round(seconds, 4),
           "reward": event.reward, "length": event.length, "epsilon": event.epsilon}
    if event.loss is not None:
        row["loss"] = event.loss
    return row


def _tag(kind: str, key: str) -> str:
    for prefix in ("train_", "val_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]}/{key[len(prefix):]}"
    return f"{kind}/{key}"


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if value == value and abs(value) != float("inf"):
            out[key] = value if isinstance(value, int) else float(value)
    return out


def _costs(doc: Document) -> dict[str, Any]:
    """Parameters and multiply-adds per node (engine.check), and their totals."""
    from engine.shapes import check

    report = check(doc)
    nodes = {net: {node_id: {"parameters": r.parameters, "macs": r.macs} for node_id, r in nr.nodes.items()}
             for net, nr in report.networks.items()}
    return {"parameters": sum(n.parameters for n in report.networks.values()),
            "macs": sum(n.macs for n in report.networks.values()), "nodes": nodes}


def _versions(netcanvas: str) -> dict[str, str]:
    import torch

    return {"netcanvas": netcanvas, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def _pid() -> int:
    import os

    return os.getpid()
