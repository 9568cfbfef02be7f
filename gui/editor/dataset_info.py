"""The Training tab's line on what the dataset is: input shape, classes or target, samples.

Counting samples needs the data, and loading data never happens on the GUI
thread: the summary (engine/data/summary.py) is computed by a background job,
once per dataset spec, and shown when it arrives if the dataset is still the
one picked. Until then the label says it is reading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

from gui import theme
from gui.background import BackgroundTasks


def _key(training: dict[str, Any], base: Path | None) -> str:
    keep = {"dataset": training.get("dataset"), "seed": training.get("seed", 0)}
    return json.dumps([keep, str(base)], sort_keys=True, default=str)


class DatasetInfo(QLabel):
    """Shows the summary of the dataset last asked for (`show_for`)."""

    shown = Signal(str)  # the text now on display (a summary or why there is none)
    summarised = Signal(object)  # the DatasetSummary on display (None: none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetSummary")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tasks = BackgroundTasks(self)
        self.cache: dict[str, Any] = {}  # key -> DatasetSummary, or the error text
        self._wanted: str | None = None

    def show_for(self, training: dict[str, Any], base: Path | None) -> None:
        """Show `training.dataset`'s summary: at once when known, else after a background job."""
        if "dataset" not in training:
            self._wanted = None
            self._display(None)
            return
        key = _key(training, base)
        if key == self._wanted and key in self.cache:
            return
        self._wanted = key
        if key in self.cache:
            self._display(self.cache[key])
            return
        self.setStyleSheet(f"color: {theme.TEXT_DIM.name()};")
        self.setText("reading the dataset…")
        snapshot = json.loads(json.dumps(training, default=str))

        def job() -> Any:
            from engine.data.summary import dataset_summary

            return dataset_summary(snapshot, base)

        self.tasks.start(job, lambda text: self._arrived(key, text),
                         lambda message: self._arrived(key, f"could not read: {message}"))

    def _arrived(self, key: str, found: Any) -> None:
        self.cache[key] = found
        if key == self._wanted:
            self._display(found)

    def _display(self, found: Any) -> None:
        """Show a DatasetSummary, an error text, or nothing (None)."""
        error = isinstance(found, str)
        text = found if error else "\n".join(found.lines()) if found is not None else ""
        self.setStyleSheet(f"color: {(theme.ERROR if error else theme.TEXT_DIM).name()};")
        self.setText(text)
        self.setVisible(bool(text))
        self.summarised.emit(None if error else found)
        self.shown.emit(text)
