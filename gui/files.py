"""File commands: new, open, presets, recent, save, revert, autosave, recovery.

Composed into the MainWindow: this object owns its actions and the File
menu's first section, and the window owns only what it shows (the session,
the title). Loading always goes through the engine (`engine.load_document`),
and a file that cannot be loaded leaves the current document exactly as it
was, with the engine's message in a dialog.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from engine import load_document
from engine.document import Document
from engine.errors import NetCanvasError
from engine.presets import PRESETS_DIR, preset_paths
from gui import settings
from gui.recovery import find_recoverable, save_document_file

if TYPE_CHECKING:
    from gui.main_window import MainWindow

Key = QKeySequence.StandardKey
NEW_TRAINING = {"task": "classification", "dataset": {"name": "digits", "image_size": 8},
                "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.001},
                "epochs": 10, "batch_size": 64, "seed": 0, "device": "auto"}


def new_document() -> Document:
    """An empty network with its Input and Output, ready to be filled in."""
    doc = Document("Untitled")
    net = doc.add_network("main")
    net.add_node("Input", {}, (0, 0), "x")
    net.add_node("Output", {}, (540, 0), "out")
    doc.training = dict(NEW_TRAINING)
    return doc


def preset_title(path: Path) -> str:
    """The preset's document name, read without building the document."""
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    return f"{name}  ({path.stem})" if isinstance(name, str) else path.stem


def is_preset(path: str) -> bool:
    """A file of the presets folder, however it was reached (File ▸ Open, a drop)."""
    try:
        return Path(path).resolve().parent == PRESETS_DIR.resolve()
    except OSError:
        return False


class FileCommands(QObject):
    """Every way a document enters or leaves the window, with its actions and menu section."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions = self._build_actions()

    def _build_actions(self) -> SimpleNamespace:
        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            made = QAction(text, self.window)
            if shortcut is not None:
                made.setShortcut(QKeySequence(shortcut))
            made.setStatusTip(tip)
            made.triggered.connect(lambda checked=False: slot())
            return made

        return SimpleNamespace(
            new=action("&New", self.new_document, Key.New, "Start an empty document"),
            open=action("&Open…", self.open_dialog, Key.Open, "Open a document or bundle"),
            save=action("&Save", self.save, Key.Save, "Save the document"),
            save_as=action("Save &As…", self.save_as, Key.SaveAs, "Save under a new name"),
            revert=action("&Revert", self.revert, None, "Reload the file, dropping changes"))

    def fill_menu(self, menu: QMenu) -> SimpleNamespace:
        """New, Open, Open Preset ▸, Open Recent ▸, Save, Save As, Revert; returns the submenus."""
        a = self.actions
        menu.addActions([a.new, a.open])
        presets = menu.addMenu("Open &Preset")
        presets.aboutToShow.connect(lambda: self._fill_presets(presets))
        recent = menu.addMenu("Open &Recent")
        recent.aboutToShow.connect(lambda: self._fill_recent(recent))
        menu.addSeparator()
        menu.addActions([a.save, a.save_as, a.revert])
        self._fill_presets(presets)
        return SimpleNamespace(presets=presets, recent=recent)

    def _fill_presets(self, menu: QMenu) -> None:
        menu.clear()
        for path in preset_paths():
            action = menu.addAction(preset_title(path))
            action.triggered.connect(lambda checked=False, p=str(path): self.open_preset(p))
        if menu.isEmpty():
            menu.addAction("(no presets found)").setEnabled(False)

    def _fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for path in settings.recent_files():
            action = menu.addAction(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_path(p))
        if menu.isEmpty():
            menu.addAction("(none yet)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", lambda: settings.settings().setValue("recentFiles", []))

    # ---- entering ------------------------------------------------------------------

    def new_document(self) -> bool:
        if not self.maybe_save_changes():
            return False
        self.window.set_document(new_document(), None)
        return True

    def open_dialog(self) -> bool:
        path = self.window.path
        path = self.window.dialogs.open_path(str(Path(path).parent) if path else "")
        return self.open_path(path) if path else False

    def load(self, path: str) -> Document | None:
        """The document at `path`, or None after showing why it cannot be opened."""
        try:
            return load_document(path)
        except (NetCanvasError, OSError, ValueError) as exc:
            self.window.dialogs.error("Cannot open the document", str(exc))
            return None

    def open_path(self, path: str, template: bool = False) -> bool:
        """Open `path`; a broken file shows its message and changes nothing.

        A file of the presets folder opens as a preset however it was chosen, so
        Save never overwrites the program's own presets.
        """
        template = template or is_preset(path)
        doc = self.load(path)
        if doc is None or not self.maybe_save_changes():
            return False
        if template:
            doc.path = None
        self.window.set_document(doc, None if template else path, template=template)
        if not template:
            self.remember_recent(path)
        return True

    def open_preset(self, path: str) -> bool:
        """Presets open as templates: Save asks for a new file instead of overwriting."""
        return self.open_path(path, template=True)

    def remember_recent(self, path: str) -> None:
        if self.window.persist:
            settings.add_recent_file(path)

    def open_paths(self, paths: list[str]) -> None:
        for path in paths[:1]:
            self.open_path(path)

    # ---- leaving -------------------------------------------------------------------

    def save(self) -> bool:
        if self.window.session is None:
            return False
        if not self.window.path:
            return self.save_as()
        return self.save_to(self.window.path)

    def save_as(self) -> bool:
        w = self.window
        if w.session is None:
            return False
        path = w.dialogs.save_path(w.path or f"{w.session.document.name}.json")
        return self.save_to(path) if path else False

    def save_to(self, path: str) -> bool:
        """Atomic write; on success the document is clean and the recovery file goes.

        A `.ncz` path writes a bundle with the document's trained weights, metrics
        and resume state (the engine's `save_bundle`); anything else is JSON.
        """
        w = self.window
        doc = w.session.document
        bundle = path.lower().endswith(".ncz")
        try:
            if bundle:
                from engine.bundle import save_bundle, stale_message  # torch: loaded on use

                stale = save_bundle(doc, None, path)
                if stale:
                    w.log_line(stale_message(stale))
                    w.statusBar().showMessage(stale_message(stale), 10000)
            else:
                save_document_file(doc, path)
        except (NetCanvasError, OSError) as exc:
            w.dialogs.error("Cannot save the document", str(exc))
            return False
        if not bundle and w.trained_unsaved:
            w.log_line("Saved the graph as JSON; the trained weights are kept only in a "
                       "bundle: Run ▸ Save Trained Model…")
        self.mark_saved(path, with_weights=bundle)
        return True

    def mark_saved(self, path: str, with_weights: bool, clean: bool = True) -> None:
        """The document now lives in `path` (a bundle also holds its trained weights).

        `clean` is False when the document was edited after the file was written.
        """
        w = self.window
        w.session.document.path = path
        w.path, w.template = path, False
        if with_weights:
            w.trained_unsaved = False
        if clean:
            w.session.undo_stack.setClean()
            w.autosaver.remove()
        self.remember_recent(path)
        w.update_title()
        w.statusBar().showMessage(f"Saved {path}", 4000)

    def revert(self) -> bool:
        w = self.window
        if not w.path or w.session is None:
            return False
        if not w.session.undo_stack.isClean() and not w.dialogs.confirm(
                "Revert", "Drop every unsaved change and reload the file?"):
            return False
        doc = self.load(w.path)
        if doc is None:
            return False
        w.set_document(doc, w.path)
        return True

    def maybe_save_changes(self) -> bool:
        """True when the current document may be replaced (saved, discarded or clean).

        Trained weights that live in no file count as unsaved work; saving them
        asks for a bundle, the only format that keeps weights, named after the
        document's file and offered with the bundle filter.
        """
        w = self.window
        if w.session is None or (w.session.undo_stack.isClean() and not w.trained_unsaved):
            return True
        answer = w.dialogs.ask_save_changes(w.display_name())
        if answer == "save" and w.trained_unsaved:
            path = w.dialogs.save_path(self.suggested_bundle(), bundle=True)
            return self.save_to(path) if path else False
        if answer == "save":
            return self.save()
        return answer == "discard"

    def suggested_bundle(self) -> str:
        """`<folder>/<name>.ncz` beside the document's file, else the document's name."""
        w = self.window
        if w.path:
            return str(Path(w.path).with_suffix(".ncz"))
        return f"{w.session.document.name}.ncz"

    # ---- autosave and recovery -----------------------------------------------------

    def autosave_now(self) -> Path | None:
        """Write the recovery file if there are unsaved changes (else remove it)."""
        w = self.window
        if w.session is None or w.session.undo_stack.isClean():
            w.autosaver.remove()
            return None
        try:
            return w.autosaver.write(w.session.document, w.path)
        except (NetCanvasError, OSError) as exc:
            w.statusBar().showMessage(f"Autosave failed: {exc}", 6000)
            return None

    def offer_recovery(self) -> bool:
        """After a crash, ask whether to reopen the newest autosaved work."""
        if os.environ.get(settings.NO_RECOVERY_ENV) == "1":
            return False
        found = find_recoverable()
        if not found:
            return False
        newest, recovered = found[0], False
        if self.window.dialogs.ask_recover(newest.describe()):
            try:
                doc = newest.load()
            except (NetCanvasError, OSError, ValueError, KeyError) as exc:
                self.window.dialogs.error("Cannot recover", str(exc))
            else:
                self.window.set_document(doc, newest.original, dirty=True)
                recovered = True
        for record in found:
            record.path.unlink(missing_ok=True)
        if recovered:
            self.autosave_now()
        return recovered
