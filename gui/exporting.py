"""File ▸ Export and File ▸ Import PyTorch Module, run off the GUI thread.

The window hands a copy of the document (with its trained weights) to a
background task; the engine does the work, and the result or the engine's
message comes back to the status bar, the log and, for errors, a dialog.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import NetCanvasError
from gui.training.controller import copy_document

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
    "python": ("PyTorch Source (model.py + state_dict.pt)…", "", "", True),
}


class ExportCommands:
    """Mixed into MainWindow: needs `session`, `dialogs`, `tasks`, `log_line`, `statusBar`."""

    def export_as(self: MainWindow, fmt: str) -> bool:
        if self.session is None:
            return False
        doc = self.session.document
        text, file_filter, suffix, folder = EXPORT_FORMATS[fmt]
        stem = Path(self.path).stem if self.path else doc.name.replace(" ", "_")
        path = self.dialogs.export_path(f"Export {text.rstrip('…')}", stem + suffix, file_filter, folder)
        if not path:
            return False
        if not folder and suffix and not path.lower().endswith(suffix):
            path += suffix
        untrained = [n for n in doc.networks if n not in doc.weights]
        if untrained and fmt != "bundle":
            self.log_line(f"note: {', '.join(untrained)} not trained yet: exporting initial weights")
        twin = copy_document(doc, with_state=True)
        self.statusBar().showMessage(f"Exporting {Path(path).name}…")
        self.tasks.start(lambda: _export(twin, fmt, path), self._exported,
                         lambda message: self._background_failed("Export failed", message))
        return True

    def _exported(self: MainWindow, lines: list[str]) -> None:
        for line in lines:
            self.log_line(line)
        self.statusBar().showMessage(lines[-1] if lines else "Exported", 8000)

    def import_module_dialog(self: MainWindow) -> bool:
        spec = self.dialogs.import_spec()
        if spec is None:
            return False
        target, shape = spec
        self.statusBar().showMessage(f"Importing {target}…")
        self.tasks.start(lambda: _import_target(target, shape or None), self._imported,
                         lambda message: self._background_failed("Import failed", message))
        return True

    def _imported(self: MainWindow, doc) -> None:
        if self.maybe_save_changes():
            self.set_document(doc, None, dirty=True)
            self.log_line(f"imported {doc.name}: {len(doc.network('main').nodes)} blocks")

    def _background_failed(self: MainWindow, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message.splitlines()[0]}", 10000)
        self.log_line(f"{title}: {message}")
        self.dialogs.error(title, message)


def _export(doc, fmt: str, path: str) -> list[str]:
    """Runs on the background thread; returns the lines for the log.

    ONNX, TorchScript and source exports run `netcanvas export` in a child
    process: torch.export is not safe off the main thread (it deadlocked there),
    and a child keeps its heavy Python work from competing with the GUI for the GIL.
    """
    from engine.bundle import save_bundle  # torch: loaded on use, not at start-up

    if fmt == "bundle":
        save_bundle(doc, None, path, metrics=doc.metrics, train_state=doc.train_state)
        return [f"saved bundle {path}"]
    with tempfile.TemporaryDirectory(prefix="netcanvas-export-") as folder:
        bundle = Path(folder) / "model.ncz"
        save_bundle(doc, None, bundle, metrics=doc.metrics, train_state=doc.train_state)
        done = subprocess.run(
            [sys.executable, "-m", "engine.cli", "export", str(bundle), "--format", fmt, "--out", path],
            capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"the exporter exited with code {done.returncode}"
        raise NetCanvasError(reason.removeprefix("netcanvas export: "))
    return [line for line in done.stdout.splitlines() if line.strip()] or [f"exported {path}"]
