"""QApplication start-up: `netcanvas`, `netcanvas open FILE` and `--screenshot PNG` land here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop
from PySide6.QtWidgets import QApplication

from engine.presets import DEFAULT_PRESET, PRESETS_DIR
from gui import settings

DEFAULT_PRESET_PATH = PRESETS_DIR / f"{DEFAULT_PRESET}.json"
SCREENSHOT_SIZE = (1920, 1080)


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
    if path and window.open_path(path):
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
    return app.exec()
