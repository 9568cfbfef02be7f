"""The window's file commands: new, open, presets, recent, save, revert, autosave, recovery.

Kept apart from the window's layout code. Loading always goes through the
engine (`engine.load_document`), and a file that cannot be loaded leaves the
current document exactly as it was, with the engine's message in a dialog.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import load_document
from engine.document import Document
from engine.errors import NetCanvasError
from gui import settings
from gui.recovery import Autosaver, find_recoverable, save_document_file

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


class FileCommands:
    """Mixed into MainWindow: every way a document enters or leaves the window."""

    path: str | None
    persist: bool
    autosaver: Autosaver

    # ---- entering ------------------------------------------------------------------

    def new_document(self) -> bool:
        if not self.maybe_save_changes():
            return False
        self.set_document(new_document(), None)
        return True

    def open_dialog(self) -> bool:
        start = str(Path(self.path).parent) if self.path else ""
        path = self.dialogs.open_path(start)
        return self.open_path(path) if path else False

    def load(self, path: str) -> Document | None:
        """The document at `path`, or None after showing why it cannot be opened."""
        try:
            return load_document(path)
        except (NetCanvasError, OSError, ValueError) as exc:
            self.dialogs.error("Cannot open the document", str(exc))
            return None

    def open_path(self, path: str, template: bool = False) -> bool:
        """Open `path`; a broken file shows its message and changes nothing."""
        doc = self.load(path)
        if doc is None or not self.maybe_save_changes():
            return False
        if template:
            doc.path = None
        self.set_document(doc, None if template else path, template=template)
        if not template:
            self.remember_recent(path)
        return True

    def open_preset(self, path: str) -> bool:
        """Presets open as templates: Save asks for a new file instead of overwriting."""
        return self.open_path(path, template=True)

    def remember_recent(self, path: str) -> None:
        if self.persist:
            settings.add_recent_file(path)

    def open_paths(self, paths: list[str]) -> None:
        for path in paths[:1]:
            self.open_path(path)

    # ---- leaving -------------------------------------------------------------------

    def save(self) -> bool:
        if self.session is None:
            return False
        if not self.path:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        if self.session is None:
            return False
        suggested = self.path or f"{self.session.document.name}.json"
        path = self.dialogs.save_path(suggested)
        return self.save_to(path) if path else False

    def save_to(self, path: str) -> bool:
        """Atomic write; on success the document is clean and the recovery file goes.

        A `.ncz` path writes a bundle with the document's trained weights, metrics
        and resume state (the engine's `save_bundle`); anything else is JSON.
        """
        doc = self.session.document
        try:
            if path.lower().endswith(".ncz"):
                from engine.bundle import save_bundle  # torch: loaded on use, not at start-up

                save_bundle(doc, None, path)
            else:
                save_document_file(doc, path)
        except (NetCanvasError, OSError) as exc:
            self.dialogs.error("Cannot save the document", str(exc))
            return False
        doc.path = path
        self.path, self.template = path, False
        if path.lower().endswith(".ncz"):
            self.trained_unsaved = False
        elif self.trained_unsaved:
            self.log_line("Saved the graph as JSON; the trained weights are kept only in a "
                          "bundle: Run ▸ Save Trained Model…")
        self.session.undo_stack.setClean()
        self.autosaver.remove()
        self.remember_recent(path)
        self.update_title()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def revert(self) -> bool:
        if not self.path or self.session is None:
            return False
        if not self.session.undo_stack.isClean() and not self.dialogs.confirm(
                "Revert", "Drop every unsaved change and reload the file?"):
            return False
        doc = self.load(self.path)
        if doc is None:
            return False
        self.set_document(doc, self.path)
        return True

    def maybe_save_changes(self) -> bool:
        """True when the current document may be replaced (saved, discarded or clean).

        Trained weights that live in no file count as unsaved work; saving them
        asks for a bundle, the only format that keeps weights.
        """
        if self.session is None or (self.session.undo_stack.isClean() and not self.trained_unsaved):
            return True
        answer = self.dialogs.ask_save_changes(self.display_name())
        if answer == "save" and self.trained_unsaved:
            stem = Path(self.path).stem if self.path else self.session.document.name
            path = self.dialogs.save_path(f"{stem}.ncz")
            return self.save_to(path) if path else False
        if answer == "save":
            return self.save()
        return answer == "discard"

    # ---- autosave and recovery -----------------------------------------------------

    def autosave_now(self) -> Path | None:
        """Write the recovery file if there are unsaved changes (else remove it)."""
        if self.session is None or self.session.undo_stack.isClean():
            self.autosaver.remove()
            return None
        try:
            return self.autosaver.write(self.session.document, self.path)
        except (NetCanvasError, OSError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 6000)
            return None

    def offer_recovery(self) -> bool:
        """After a crash, ask whether to reopen the newest autosaved work."""
        if os.environ.get(settings.NO_RECOVERY_ENV) == "1":
            return False
        found = find_recoverable()
        if not found:
            return False
        newest, recovered = found[0], False
        if self.dialogs.ask_recover(newest.describe()):
            try:
                doc = newest.load()
            except (NetCanvasError, OSError, ValueError, KeyError) as exc:
                self.dialogs.error("Cannot recover", str(exc))
            else:
                self.set_document(doc, newest.original, dirty=True)
                recovered = True
        for record in found:
            record.path.unlink(missing_ok=True)
        if recovered:
            self.autosave_now()
        return recovered
