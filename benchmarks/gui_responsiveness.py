"""Does training from the GUI keep the window responsive, and does the GUI slow training?

Trains a preset (the LeNet CNN by default) flat out through `TrainingController`
(which trains in the training host, a child process: engine/training/host.py)
in an offscreen QApplication with the `TrainingPanel` shown and redrawing,
while a 5 ms QTimer probes the event loop and records how late each tick is,
and a menu pops up every MENU_EVERY_MS (how long until it paints, against the
same when idle). The same training then runs headless in a fresh process at
torch's defaults, as `netcanvas train` does (both train a small step, as the
flood's, on one thread: engine/training/threads.py) (and, where the training host uses
fewer threads, in this process at that count too, for information). A second scenario floods the
GUI with events (a tiny MLP making thousands of steps a second) to exercise the
controller's coalescing.

Targets from issue 12: longest stall ≤ 50 ms, 99th percentile ≤ 16 ms, GUI
throughput ≥ 0.9× `netcanvas train`, a menu opens during a run as fast as idle.
The full table, on a quiet machine:

    python benchmarks/gui_responsiveness.py --repeats 5 --slots

--slots also times every call of the slots and callbacks that run on the GUI
thread during a run (each panel's paint and refresh, the panel's handler per
event kind, the controller's event drain, run start and end, the garbage
collector) in GUI-thread CPU time, which other processes on a shared machine
inflate far less than the wall-clock stalls: the per-call maximum names the
stall to remove. --replay trains nothing alongside: it records each scenario's
events headless, replays them through the panel at a quiet machine's pace and
prints the same per-call table (the GUI's own cost, usable on a busy machine).

Medians over the repeats, except the longest stall (the worst of all). On a
machine shared with other work, the ratio moves by a few hundredths between
invocations: the GUI and headless runs do not see the same background load.
"""

from __future__ import annotations

import argparse
import collections
import functools
import math
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QObject, QPoint, Qt, QTimer, qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication, QMenu  # noqa: E402

import engine  # noqa: E402
from engine.training import RunOptions, Started, Step, make_trainer  # noqa: E402
from gui.plots.panel import TrainingPanel  # noqa: E402
from gui.theme import apply_theme  # noqa: E402
from gui.training.controller import TrainingController  # noqa: E402

PROBE_MS = 5
MENU_EVERY_MS, MENU_OPEN_MS = 700, 150  # a menu pops up this often during a run, stays open this long
# A run's length on a quiet 2-core machine (GUI run): replays take as long, whatever the recording took.
REPLAY_SECONDS = {"CNN preset": 8.0, "event flood (MLP)": 5.0}
CLI_THREADS = torch.get_num_threads()  # what `netcanvas train` trains on: torch's default
STALL_TARGET_MS, P99_TARGET_MS, RATIO_TARGET = 50.0, 16.0, 0.9


class Probe:
    """A 5 ms timer whose lateness is the event loop's: a busy GUI thread makes it late."""

    def __init__(self) -> None:
        self.timer = QTimer(interval=PROBE_MS)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = 0.0
        self.gui_share = 0.0

    def start(self) -> None:
        self.gaps, self._last = [], time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1e3)
        self._last = now

    def lateness(self) -> np.ndarray:
        return np.maximum(np.array(self.gaps or [0.0]) - PROBE_MS, 0.0)


class MenuProbe(QObject):
    """Pops a menu up every MENU_EVERY_MS and records how long it takes to appear (ms): from
    popup() to its first paint, which waits for whatever the event loop is doing."""

    def __init__(self) -> None:
        super().__init__()
        self.menu = QMenu()
        for i in range(12):
            self.menu.addAction(f"Item {i}")
        self.menu.installEventFilter(self)
        self.timer = QTimer(interval=MENU_EVERY_MS)
        self.timer.timeout.connect(self._open)
        self.times: list[float] = []
        self._asked: float | None = None

    def start(self) -> None:
        self.times, self._asked = [], None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.menu.hide()

    def idle_times(self, count: int = 10) -> list[float]:
        """The same measure with nothing else running (the reference)."""
        self.start()
        idle(count * MENU_EVERY_MS / 1000 + 0.1)
        self.stop()
        return self.times

    def _open(self) -> None:
        self._asked = time.perf_counter()
        self.menu.popup(QPoint(40, 40))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and self._asked is not None:
            self.times.append(1e3 * (time.perf_counter() - self._asked))
            self._asked = None
            QTimer.singleShot(MENU_OPEN_MS, self.menu.hide)
        return False


def idle(seconds: float) -> None:
    """Run the event loop for `seconds` (the window settles as it would before a person acts)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def throughput(steps: list[tuple[float, int]], batch_size: int) -> float:
    """Samples per second between the first and the last step (setup and loading excluded)."""
    if len(steps) < 2:
        return float("nan")
    (t0, s0), (t1, s1) = steps[0], steps[-1]
    return (s1 - s0) * batch_size / max(t1 - t0, 1e-9)


def run_headless(doc, options: RunOptions, threads: int | None) -> float:
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        steps = [(time.perf_counter(), e.step) for e in make_trainer(doc.copy(), options).run()
                 if isinstance(e, Step)]
    finally:
        torch.set_num_threads(previous)
    return throughput(steps, int(doc.training.get("batch_size", 64)))


def run_cli(doc, options: RunOptions) -> float:
    """Samples/s of the same training in a fresh process with torch's defaults, as `netcanvas
    train` runs it: nothing of this process (Qt, the GUI's collector, the reading thread
    pools) can slow or speed the reference."""
    import subprocess
    import tempfile

    from engine.readwrite import save_document

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.json"
        save_document(doc, path)
        done = subprocess.run([sys.executable, __file__, "--headless", str(path), "--epochs", str(options.epochs),
                               "--device", options.device], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(done.stdout.split()[-1])


def headless_child(args: argparse.Namespace) -> None:
    """--headless FILE: train it here at torch's defaults and print samples/s (for run_cli),
    after an epoch's warm-up, as the GUI's process had (data loading, kernels)."""
    doc = engine.load_document(args.headless)
    steps_per_epoch(doc, args.device)
    print(run_headless(doc, RunOptions(epochs=args.epochs, device=args.device), None))


def run_gui(panel: TrainingPanel, controller: TrainingController, doc, options: RunOptions,
            probe: Probe, menu: MenuProbe) -> tuple[float, np.ndarray]:
    steps: list[tuple[float, int]] = []

    def on_step(event: Step) -> None:
        steps.append((time.perf_counter(), event.step))

    controller.step.connect(on_step)
    loop = QEventLoop()
    controller.finished.connect(loop.quit)
    controller.failed.connect(loop.quit)
    panel.begin_run(doc)
    probe.start()
    menu.start()
    cpu, wall = time.thread_time(), time.perf_counter()
    errors = controller.start(doc, options)
    if errors:
        raise SystemExit("the document has errors:\n" + "\n".join(errors))
    loop.exec()
    menu.stop()
    probe.stop()
    probe.gui_share = (time.thread_time() - cpu) / (time.perf_counter() - wall)
    controller.step.disconnect(on_step)
    controller.finished.disconnect(loop.quit)
    controller.failed.disconnect(loop.quit)
    return throughput(steps, int(doc.training.get("batch_size", 64))), probe.lateness()


def steps_per_epoch(doc, device: str) -> int:
    for event in make_trainer(doc.copy(), RunOptions(epochs=1, device=device)).run():
        if isinstance(event, Started):
            return event.steps_per_epoch
    raise SystemExit("the trainer did not start")


def scenario(name: str, doc, epochs: int, args, panel, controller, probe, menu) -> dict:
    options = RunOptions(epochs=epochs, device=args.device)
    rows: dict[str, list[float]] = {k: [] for k in ("stall", "p99", "cpu", "gui", "cli", "worker", "menu")}
    for _ in range(args.repeats):
        rate, lateness = run_gui(panel, controller, doc, options, probe, menu)
        rows["menu"] += menu.times
        rows["stall"].append(float(lateness.max()))
        rows["p99"].append(float(np.percentile(lateness, 99)))
        rows["gui"].append(rate)
        rows["cpu"].append(100 * probe.gui_share)
        rows["cli"].append(run_cli(doc, options))
        if controller.threads not in (None, CLI_THREADS):  # a gap from the thread count?
            rows["worker"].append(run_headless(doc, options, controller.threads))
        QApplication.processEvents()
    return {"name": name, **{k: v for k, v in rows.items() if v}}


SLOT_CALLS: dict[str, list[float]] = collections.defaultdict(list)


def time_slots() -> None:
    """Record the GUI-thread CPU time of each call of the GUI's run-time slots (--slots).

    Paints and refreshes are named after the panel they belong to (the curves' paint, ...)."""
    from gui.gc_guard import GuiCollector
    from gui.plots import curves, feature_maps, progress, results, rl, samples, style
    from gui.plots.base import PlotPanel

    def owner(widget) -> str:
        while widget is not None and not isinstance(widget, PlotPanel):
            widget = widget.parent()
        return type(widget).__name__ if widget is not None else "?"

    watched = [(style.TimedLayoutWidget, "paintEvent", lambda w, _: f"paint of {owner(w)}"),
               (PlotPanel, "refresh", lambda p, _: f"{type(p).__name__}.refresh"),
               (TrainingPanel, "handle", lambda _, args: f"TrainingPanel.handle({type(args[0]).__name__})")]
    watched += [(cls, name, None) for cls, name in (
        (TrainingController, "start"), (TrainingController, "_drain"), (TrainingController, "_finish"),
        (TrainingPanel, "begin_run"), (TrainingPanel, "panel"),
        (curves.CurvePanel, "redraw"), (curves.CurvePanel, "reset"), (feature_maps.FeatureMapPanel, "redraw"),
        (results.ResultsPanel, "redraw"), (results.ResultsPanel, "_add_pending_texts"),
        (samples.SamplesPanel, "redraw"), (rl.RLPanel, "redraw"),
        (progress.ProgressWidget, "handle"), (progress.ProgressWidget, "update_text"), (GuiCollector, "check"))]
    main = threading.main_thread()
    for cls, name, label in watched:
        if not hasattr(cls, name):  # an older tree (comparing before and after a change)
            continue
        setattr(cls, name, _timed(getattr(cls, name), label or (lambda *_, n=f"{cls.__name__}.{name}": n), main))


def _timed(method, label, main: threading.Thread):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if threading.current_thread() is not main:
            return method(self, *args, **kwargs)
        began = time.thread_time()
        try:
            return method(self, *args, **kwargs)
        finally:
            SLOT_CALLS[label(self, args)].append(1e3 * (time.thread_time() - began))
    return wrapper


def print_slots() -> None:
    print(f"\n{'GUI-thread CPU per call (ms)':38}{'calls':>8}{'median':>8}{'max':>8}{'total':>9}")
    for label, calls in sorted(SLOT_CALLS.items(), key=lambda item: -max(item[1])):
        print(f"{label:38}{len(calls):8}{statistics.median(calls):8.1f}{max(calls):8.1f}{sum(calls):9.1f}")


def print_table(results: list[dict], threads: int, idle_menu: list[float]) -> None:
    print(f"\n{'':44}" + "".join(f"{r['name']:>18}" for r in results) + "   target")

    def row(label: str, values: list[str], target: str = "") -> None:
        print(f"{label:44}" + "".join(f"{v:>18}" for v in values) + f"   {target}")

    med = statistics.median
    row("longest event-loop stall (ms)", [f"{max(r['stall']):.1f}" for r in results], f"≤ {STALL_TARGET_MS:g}")
    row("99th percentile lateness (ms)", [f"{med(r['p99']):.1f}" for r in results], f"≤ {P99_TARGET_MS:g}")
    row("GUI thread busy (% of the run)", [f"{med(r['cpu']):.0f}" for r in results])
    row("GUI run (training host), samples/s", [f"{med(r['gui']):,.0f}" for r in results])
    row("netcanvas train, samples/s", [f"{med(r['cli']):,.0f}" for r in results])
    row("ratio GUI / netcanvas train", [f"{med(r['gui']) / med(r['cli']):.2f}" for r in results],
        f"≥ {RATIO_TARGET:g}")
    row("menu opens during the run, median (ms)", [f"{med(r['menu']):.1f}" for r in results],
        f"≈ idle {med(idle_menu):.1f}")
    row("menu opens during the run, worst (ms)", [f"{max(r['menu']):.1f}" for r in results],
        f"≈ idle {max(idle_menu):.1f}")
    if all(r.get("worker") for r in results):
        row(f"headless at {threads} threads (info)", [f"{med(r['worker']):,.0f}" for r in results])


def record(doc, options: RunOptions) -> list[tuple[float, object]]:
    """A headless run's events with the second each came at (for --replay)."""
    began = time.perf_counter()
    return [(time.perf_counter() - began, e) for e in make_trainer(doc.copy(), options).run()]


def replay(panel: TrainingPanel, doc, events: list[tuple[float, object]], seconds: float,
           probe: Probe, menu: MenuProbe) -> np.ndarray:
    """Hand recorded events to the panel over `seconds` (their recorded pace, scaled), every
    COLLECT_DELAY_MS as the controller would, with the collector held as during a run: the
    GUI's own cost of a run, without a trainer competing for the cores."""
    from gui.gc_guard import guard_garbage_collection
    from gui.training.controller import COLLECT_DELAY_MS

    scale = seconds / max(events[-1][0], 1e-9)
    loop, pending = QEventLoop(), collections.deque((t * scale, e) for t, e in events)
    timer = QTimer(interval=COLLECT_DELAY_MS)
    collector = guard_garbage_collection()
    collector.hold()
    panel.begin_run(doc)
    began = time.perf_counter()

    def deliver() -> None:
        now = time.perf_counter() - began
        while pending and pending[0][0] <= now:
            panel.handle(pending.popleft()[1])
        if not pending:
            timer.stop()
            QTimer.singleShot(500, loop.quit)  # the last frames and the Results tab

    timer.timeout.connect(deliver)
    probe.start()
    menu.start()
    cpu, wall = time.thread_time(), time.perf_counter()
    timer.start()
    loop.exec()
    probe.gui_share = (time.thread_time() - cpu) / (time.perf_counter() - wall)
    menu.stop()
    probe.stop()
    collector.release()
    return probe.lateness()


def main_replay(args, panel: TrainingPanel, probe: Probe, menu: MenuProbe, scenarios: list) -> None:
    print(f"replaying recorded runs through the panel; load average {os.getloadavg()[0]:.1f}")
    for name, doc, epochs in scenarios:
        events = record(doc, RunOptions(epochs=epochs, device=args.device))
        for _ in range(args.repeats):
            lateness = replay(panel, doc, events, REPLAY_SECONDS[name], probe, menu)
            print(f"{name}: {len(events)} events in {REPLAY_SECONDS[name]:g} s, longest stall "
                  f"{lateness.max():.1f} ms, p99 {np.percentile(lateness, 99):.1f} ms, GUI thread busy "
                  f"{100 * probe.gui_share:.0f} %, menu opens in {statistics.median(menu.times):.1f} ms "
                  f"(max {max(menu.times):.1f})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=str(ROOT / "presets" / "lenet_digits.json"))
    parser.add_argument("--steps", type=int, default=200, help="training steps of the CNN run")
    parser.add_argument("--repeats", type=int, default=3, help="GUI and headless runs alternate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=("cnn", "flood"), help="one scenario, not both")
    parser.add_argument("--slots", action="store_true",
                        help="also time each call of the GUI thread's slots (CPU time, per call)")
    parser.add_argument("--headless", metavar="FILE", help=argparse.SUPPRESS)  # run_cli's child
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--replay", action="store_true",
                        help="no training alongside: replay recorded runs' events through the panel "
                             "and time the slots (the GUI's own cost, valid on a busy machine)")
    return parser.parse_args()


def quiet_platform_notes(kind, context, message: str) -> None:
    """Drop the offscreen platform's notes on what it cannot do (raise, keyboard grabs)."""
    if "This plugin does not support" not in message:
        sys.stderr.write(message + "\n")


def main() -> None:
    args = parse_args()
    if args.headless:
        headless_child(args)
        return
    qInstallMessageHandler(quiet_platform_notes)
    if args.slots or args.replay:
        time_slots()
    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    controller = TrainingController()
    panel = TrainingPanel()
    panel.connect_controller(controller)
    panel.resize(1100, 750)
    panel.show()
    panel.select_node("conv1", "Conv2d")  # activations flow as they would with a node selected
    idle(1.0)  # the window opened a moment before Run: its tabs are built in idle turns
    probe, menu = Probe(), MenuProbe()
    menu.idle_times(2)  # the first popup polishes the menu
    idle_menu = menu.idle_times()
    print(f"a menu opens in {statistics.median(idle_menu):.1f} ms when idle (max {max(idle_menu):.1f})")

    cnn = engine.load_document(args.preset)
    per_epoch = steps_per_epoch(cnn, args.device)  # also warms up data loading and kernels
    scenarios = [("CNN preset", cnn, max(1, math.ceil(args.steps / per_epoch)))]
    if args.only != "cnn":
        from tests.helpers import iris_mlp

        scenarios.append(("event flood (MLP)", iris_mlp(epochs=300, batch_size=8, device=args.device), 300))
    if args.only == "flood":
        scenarios.pop(0)
    print(f"{cnn.name}: {math.ceil(args.steps / per_epoch)} epochs × {per_epoch} steps, device {args.device}, "
          f"training host and `netcanvas train` at {controller.threads or CLI_THREADS} torch thread(s) "
          f"or 1 for a small step (engine/training/threads.py), "
          f"{os.cpu_count()} CPUs, {args.repeats} repeat(s); the probe ticks every {PROBE_MS} ms; "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.replay:
        main_replay(args, panel, probe, menu, scenarios)
    else:
        results = [scenario(name, doc, epochs, args, panel, controller, probe, menu)
                   for name, doc, epochs in scenarios]
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print_table(results, controller.threads or CLI_THREADS, idle_menu)
    controller.shutdown()
    if args.slots or args.replay:
        print_slots()
    panel.close()  # tear the widgets down now, not during interpreter finalisation
    panel.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
