"""File ▸ Export and File ▸ Import Model, run off the GUI thread.

Composed into the MainWindow: this object owns the Export submenu, the Import
action and Run ▸ Save Trained Model. It hands a copy of the document
(`Document.copy`, with the trained weights) to a background task; the engine
does the work, and the result or the engine's message comes back to the
status bar, the log and, for errors, a dialog.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from engine.errors import NetCanvasError

if TYPE_CHECKING:
    from gui.main_window import MainWindow

EXPORT_TIMEOUT_S = 600


def _import_target(target: str, shape: str | None):
    """The engine's importer, loaded on use (it imports torch): not at start-up."""
    from engine.importer import import_target

    return import_target(target, shape)

# format -> (menu text, dialog filter, default suffix, writes a folder)
EXPORT_FORMATS = {
    "bundle": ("Bundle with Trained Weights (.ncz)…", "Bundles (*.ncz)", ".ncz", False),
    "onnx": ("ONNX (.onnx)…", "ONNX models (*.onnx)", ".onnx", False),
    "torchscript": ("TorchScript (.pt)…", "TorchScript (*.pt)", ".pt", False),
    "pt2": ("torch.export Program (.pt2)…", "ExportedProgram (*.pt2)", ".pt2", False),
    "python": ("PyTorch Source (model.py + state_dict.pt)…", "", "", True),
}


class ExportCommands(QObject):
    """File ▸ Export ▸, File ▸ Import Model… and Run ▸ Save Trained Model…"""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions: dict[str, QAction] = {}
        self.import_action = QAction("&Import Model (PyTorch or ONNX)…", window)
        self.import_action.setStatusTip(
            "Trace a torch.nn.Module class from a .py file, or read an .onnx model, into a document")
        self.import_action.triggered.connect(self.import_module_dialog)
        self.save_trained_action = QAction("Save &Trained Model…", window)
        self.save_trained_action.setStatusTip(
            "Write a .ncz bundle: the graph, its trained weights and curves")
        self.save_trained_action.triggered.connect(lambda: self.export_as("bundle"))

    def fill_menus(self, file_menu: QMenu, run_menu: QMenu) -> None:
        """Export ▸ and Import… at the end of the File menu; Save Trained Model… in Run."""
        menu = file_menu.addMenu("&Export")
        for fmt, (text, *_rest) in EXPORT_FORMATS.items():
            action = menu.addAction(text)
            action.triggered.connect(lambda checked=False, f=fmt: self.export_as(f))
            self.actions[fmt] = action
        menu.addSeparator()
        for suffix in ("png", "svg"):
            action = menu.addAction(f"Diagram as {suffix.upper()}…")
            action.setStatusTip("A picture of the current network's canvas")
            action.triggered.connect(lambda checked=False, s=suffix: self.export_diagram(s))
            self.actions[f"diagram_{suffix}"] = action
        file_menu.addAction(self.import_action)
        run_menu.addSeparator()
        run_menu.addAction(self.save_trained_action)

    def export_as(self, fmt: str) -> bool:
        w = self.window
        if w.session is None:
            return False
        doc = w.session.document
        text, file_filter, suffix, folder = EXPORT_FORMATS[fmt]
        stem = Path(w.path).stem if w.path else doc.name.replace(" ", "_")
        path = w.dialogs.export_path(f"Export {text.rstrip('…')}", stem + suffix, file_filter, folder)
        if not path:
            return False
        if not folder and suffix and not path.lower().endswith(suffix):
            path += suffix
        untrained = [n for n in doc.networks if n not in doc.weights]
        if untrained and fmt != "bundle":
            w.log_line(f"note: {', '.join(untrained)} not trained yet: exporting initial weights")
        twin = doc.copy(with_state=True)
        w.statusBar().showMessage(f"Exporting {Path(path).name}…")
        done = self._bundle_saved(path) if fmt == "bundle" else self._exported
        w.tasks.start(lambda: _export(twin, fmt, path), done,
                      lambda message: self._background_failed("Export failed", message))
        return True

    def export_diagram(self, suffix: str) -> bool:
        """The current network's canvas as a .png or .svg (drawing: on the GUI thread)."""
        from gui.diagram_export import export_diagram

        w = self.window
        scene = w.current_scene()
        if scene is None:
            return False
        stem = Path(w.path).stem if w.path else w.session.document.name.replace(" ", "_")
        path = w.dialogs.export_path(f"Export Diagram as {suffix.upper()}",
                                     f"{stem}_{scene.network_name}.{suffix}",
                                     f"{suffix.upper()} images (*.{suffix})", False)
        if not path:
            return False
        if not path.lower().endswith(f".{suffix}"):
            path += f".{suffix}"
        try:
            export_diagram(scene, path, w.session.document.name)
        except (OSError, ValueError) as exc:
            self._background_failed("Export failed", str(exc))
            return False
        self._exported([f"exported diagram {path}"])
        return True

    def _bundle_saved(self, path: str):
        """What to do once a bundle is written: the document now lives in that file.

        Edits made while it was written (it runs in the background) keep the
        document marked modified; a different document in the window is left alone.
        """
        session = self.window.session
        index = session.undo_stack.index()

        def done(lines: list[str]) -> None:
            self._exported(lines)
            if self.window.session is session:
                self.window.files.mark_saved(path, with_weights=True,
                                             clean=session.undo_stack.index() == index)
        return done

    def _exported(self, lines: list[str]) -> None:
        for line in lines:
            self.window.log_line(line)
        self.window.statusBar().showMessage(lines[-1] if lines else "Exported", 8000)

    def import_module_dialog(self) -> bool:
        spec = self.window.dialogs.import_spec()
        if spec is None:
            return False
        target, shape = spec
        self.window.statusBar().showMessage(f"Importing {target}…")
        self.window.tasks.start(lambda: _import_target(target, shape or None), self._imported,
                                lambda message: self._background_failed("Import failed", message))
        return True

    def _imported(self, doc) -> None:
        if self.window.files.maybe_save_changes():
            self.window.set_document(doc, None, dirty=True)
            self.window.log_line(f"imported {doc.name}: {len(doc.network('main').nodes)} blocks")

    def _background_failed(self, title: str, message: str) -> None:
        self.window.statusBar().showMessage(f"{title}: {message.splitlines()[0]}", 10000)
        self.window.log_line(f"{title}: {message}")
        self.window.dialogs.error(title, message)


def _export(doc, fmt: str, path: str) -> list[str]:
    """Runs on the background thread; returns the lines for the log.

    ONNX, TorchScript, pt2 and source exports run `netcanvas export` in a child
    process: torch.export is not safe off the main thread (it deadlocked there),
    and a child keeps its heavy Python work from competing with the GUI for the GIL.
    """
    from engine.bundle import save_bundle, stale_message  # torch: loaded on use

    if fmt == "bundle":
        stale = save_bundle(doc, None, path, metrics=doc.metrics, train_state=doc.train_state)
        return ([stale_message(stale)] if stale else []) + [f"saved bundle {path}"]
    with tempfile.TemporaryDirectory(prefix="netcanvas-export-") as folder:
        bundle = Path(folder) / "model.ncz"
        stale = save_bundle(doc, None, bundle, metrics=doc.metrics, train_state=doc.train_state)
        done = subprocess.run(
            [sys.executable, "-m", "engine.cli", "export", str(bundle), "--format", fmt, "--out", path],
            capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"the exporter exited with code {done.returncode}"
        raise NetCanvasError(reason.removeprefix("netcanvas export: "))
    lines = [line for line in done.stdout.splitlines() if line.strip()] or [f"exported {path}"]
    return ([stale_message(stale)] if stale else []) + lines
