"""QApplication start-up: `netcanvas`, `netcanvas open FILE` and `--screenshot PNG` land here.

The window paints first, with the default preset drawn and checked (shapes and
parameter counts need no torch); PyTorch, the trainers and `torch._dynamo` then
load on a background thread, and Run says "loading PyTorch…" and waits for them
instead of blocking the GUI. `--screenshot` never loads torch at all.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from engine.presets import DEFAULT_PRESET, PRESETS_DIR, is_preset_path
from gui import settings

DEFAULT_PRESET_PATH = PRESETS_DIR / f"{DEFAULT_PRESET}.json"
SCREENSHOT_SIZE = (1920, 1080)
# What checking a run, reading its results and exporting need, in that order (the training
# itself runs in the training host); torch._dynamo is what an export would otherwise import
# on its thread (seconds, holding the GIL).
BACKGROUND_MODULES = ("torch", "engine.compiler", "engine.bundle", "engine.training.base",
                      "engine.training.setup", "torch._dynamo")
# `NETCANVAS_STARTUP_TRACE=1` prints `first-paint` and `engine-ready` lines on stderr
# (benchmarks/startup_benchmark.py reads them); `=exit` also quits once PyTorch is loaded.
TRACE_ENV = "NETCANVAS_STARTUP_TRACE"


class EngineLoader(QObject):
    """Imports torch and the trainers on a Python thread; `loaded` arrives on the GUI thread."""

    loaded = Signal(bool, str)  # ok, the reason when not

    def __init__(self, modules: tuple[str, ...] = BACKGROUND_MODULES, parent: QObject | None = None):
        super().__init__(parent)
        self.modules = modules
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._load, name="netcanvas-load-torch", daemon=True)
        self.thread.start()

    def _load(self) -> None:
        try:
            for name in self.modules:
                importlib.import_module(name)
            from engine.training import TRAINERS  # every trainer module

            ok, reason = bool(TRAINERS), ""
            _prepare_training_host()
        except Exception as exc:  # noqa: BLE001 - told to the person, not raised in a thread
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        self.loaded.emit(ok, reason)  # queued: the slot runs on the GUI thread


def _prepare_training_host() -> None:
    """Start the training process now: it imports torch while the person builds. One that
    cannot start is not a PyTorch failure; Run starts another and reports why if it fails."""
    from engine.training.child_run import prepare_host

    try:
        prepare_host()
    except OSError as exc:
        print(f"netcanvas: the training process did not start yet: {exc}", file=sys.stderr)


def engine_ready_hook(window):
    """The window's slot for "torch is (not yet) loaded": its own, else RunControl's."""
    return getattr(window, "set_engine_ready", None) or window.run_control.set_engine_ready


def load_engine_after_first_paint(app: QApplication, window) -> EngineLoader:
    """Run says "loading PyTorch…" now; the loader starts once the window has painted."""
    ready = engine_ready_hook(window)
    ready(False)
    loader = EngineLoader(parent=window)
    trace = os.environ.get(TRACE_ENV)

    def done(ok: bool, reason: str) -> None:
        ready(True)
        if not ok:
            window.dialogs.error("PyTorch could not be loaded", reason)
        if trace:
            _trace(f"engine-ready ok={ok}")
            if trace == "exit":
                QTimer.singleShot(0, window.close)

    def painted() -> None:
        if trace:
            _trace(f"first-paint torch_loaded={'torch' in sys.modules}")
        loader.start()

    loader.loaded.connect(done, Qt.ConnectionType.QueuedConnection)
    QTimer.singleShot(0, painted)  # after the show and the first paint have been processed
    return loader


def _trace(what: str) -> None:
    rss = _rss_mib()
    cpu = time.process_time()  # this process's CPU seconds: robust to a busy machine
    print(f"netcanvas-trace {what} rss_mib={rss:.0f} cpu_s={cpu:.2f}", file=sys.stderr,
          flush=True)


def _rss_mib() -> float:
    """Resident memory now (Linux /proc; elsewhere the peak from resource, or 0)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / (2**20 if sys.platform == "darwin" else 2**10)
        except ImportError:
            return 0.0


def make_app() -> QApplication:
    """The one QApplication, themed, with the names QSettings files itself under."""
    from gui.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        apply_theme(app)
        # Copied blocks live in a QMimeData the clipboard owns; emptied while Python still
        # runs, so Qt does not free it after the interpreter has gone (a crash on exit).
        app.aboutToQuit.connect(lambda: QApplication.clipboard().clear())
    QCoreApplication.setOrganizationName(settings.ORGANIZATION)
    QCoreApplication.setApplicationName(settings.APPLICATION)
    return app


def open_window(path: str | None, recover: bool = True, dialogs=None, persist: bool = True):
    """A MainWindow on `path` (or the default preset) and whether `path` opened.

    A file that cannot be opened has already shown its message; the window
    then falls back to the default preset so the person has something to use.
    """
    from gui.main_window import MainWindow

    window = MainWindow(dialogs, persist)
    if recover and window.offer_recovery():
        return window, True
    if path and (window.open_preset(path) if is_preset_path(path) else window.open_path(path)):
        return window, True
    if DEFAULT_PRESET_PATH.exists():
        window.open_preset(str(DEFAULT_PRESET_PATH))
    else:
        window.new_document()
    return window, not path


def settle(app: QApplication, rounds: int = 6) -> None:
    """Let layout, the coalesced check and the first paints finish (no sleeping)."""
    for _ in range(rounds):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def render_screenshot(window, png: str) -> bool:
    """Frame every tab, then grab the whole window into `png`."""
    app = QApplication.instance()
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    settle(app)
    if window.session is not None:
        window.session.check_now()
    window.frame_all_tabs()
    settle(app)
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    return window.grab().save(png)


def dispose(window) -> None:
    """Close and destroy a window now, while Python still runs.

    Left to the interpreter's exit, Qt destroys the scenes and plots after the
    Python objects they call back into are gone, and the process crashes on exit.
    """
    if window.session is not None:
        window.session.undo_stack.setClean()  # nothing to ask about when closing
    window.trained_unsaved = False
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def main(path: str | None = None, screenshot: str | None = None,
         recover: bool | None = None) -> int:
    """Run the editor; with `screenshot`, render the window to that PNG and exit."""
    app = make_app()
    if recover is None:
        recover = screenshot is None and os.environ.get(settings.NO_RECOVERY_ENV) != "1"
    if screenshot:
        from gui.dialogs import HeadlessDialogs

        window, opened = open_window(path, recover=False, dialogs=HeadlessDialogs(),
                                     persist=False)
        ok = opened and render_screenshot(window, screenshot)
        dispose(window)
        if not opened:
            return 1
        if not ok:
            print(f"netcanvas: cannot write {screenshot}", file=sys.stderr)
        return 0 if ok else 1
    window, _ = open_window(path, recover)
    window.show()
    load_engine_after_first_paint(app, window)
    return app.exec()
