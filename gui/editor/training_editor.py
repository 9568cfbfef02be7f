"""The document's training section as a form: every edit is a `SetTrainingCommand`.

Keys the form does not know stay untouched (each edit replaces one top-level
key, and nested ones such as `optimizer.lr` are written back as a copy of
the whole object with one field changed), so files keep what they had.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from engine.training.choices import LOSSES, OPTIMIZERS  # torch-free: the window opens before torch
from gui.editor.param_editors import INT_LIMIT, FloatSpinBox
from gui.editor.session import EditorSession

TASKS = ("classification", "regression", "autoencoder", "gan", "dqn", "q_learning",
         "node_classification", "sequence", "perceptron")
KNOWN_DATASETS = ("digits", "iris", "xor", "moons", "circles", "spirals", "blobs", "sine",
                  "copy", "reverse", "sort", "karate", "CartPole-v1", "FrozenLake-v1",
                  "mnist", "fashion_mnist", "cora")
DEVICES = ("auto", "cpu", "cuda", "mps")


def dataset_entries() -> dict[str, Any]:
    from engine.data import REGISTRY

    return dict(REGISTRY)


def parse_option(text: str) -> Any:
    """'28' -> 28, 'true' -> True, 'x' -> 'x': what a person means in a small field."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class TrainingEditor(QWidget):
    """Task, dataset (+ options), loss, optimizer, learning rate, epochs, batch, seed, device."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: EditorSession | None = None
        self._quiet = False
        self._typing_option = False
        self.form = QFormLayout(self)
        self.task = self._combo(TASKS, "What the trainer optimises for.")
        self.dataset = self._combo(sorted(set(KNOWN_DATASETS) | set(dataset_entries())),
                                   "Dataset name (embedded, downloadable, or a file path).",
                                   editable=True)
        self.options_host = QWidget()
        self.options = QFormLayout(self.options_host)
        self.options.setContentsMargins(0, 0, 0, 0)
        self.loss = self._combo(LOSSES, "Loss function comparing the output with the target.")
        self.optimizer = self._combo(OPTIMIZERS, "Optimizer (torch.optim).")
        self.lr = FloatSpinBox()
        self.lr.setRange(0.0, 10.0)
        self.lr.setToolTip("Learning rate of the optimizer.")
        self.epochs = self._spin(1, 1_000_000, "Passes over the training data (episodes for RL).")
        self.batch_size = self._spin(1, 1_000_000, "Samples per optimisation step.")
        self.seed = self._spin(0, INT_LIMIT, "Seed for weights, shuffling and splits.")
        self.device = self._combo(DEVICES, "Where to train: auto picks CUDA, then MPS, then CPU.",
                                  editable=True)
        for label, widget in (("Task", self.task), ("Dataset", self.dataset),
                              ("", self.options_host), ("Loss", self.loss),
                              ("Optimizer", self.optimizer), ("Learning rate", self.lr),
                              ("Epochs", self.epochs), ("Batch size", self.batch_size),
                              ("Seed", self.seed), ("Device", self.device)):
            self.form.addRow(label, widget)
        self.task.currentTextChanged.connect(lambda v: self._set("task", v))
        self.dataset.currentTextChanged.connect(self._dataset_name_changed)
        self.loss.currentTextChanged.connect(lambda v: self._set("loss", v))
        self.optimizer.currentTextChanged.connect(lambda v: self._set_nested("optimizer", "name", v))
        self.lr.valueChanged.connect(lambda v: self._set_nested("optimizer", "lr", v))
        self.epochs.valueChanged.connect(lambda v: self._set("epochs", v))
        self.batch_size.valueChanged.connect(lambda v: self._set("batch_size", v))
        self.seed.valueChanged.connect(lambda v: self._set("seed", v))
        self.device.currentTextChanged.connect(lambda v: self._set("device", v))
        self.setEnabled(False)

    def _combo(self, items, tip: str, editable: bool = False) -> QComboBox:
        box = QComboBox()
        box.addItems(list(items))
        box.setEditable(editable)
        box.setToolTip(tip)
        return box

    def _spin(self, lo: int, hi: int, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setToolTip(tip)
        return box

    # ---- session ---------------------------------------------------------------------

    def set_session(self, session: EditorSession | None) -> None:
        if self.session is not None:
            self.session.signals.trainingChanged.disconnect(self._on_training_changed)
        self.session = session
        self.setEnabled(session is not None)
        if session is not None:
            session.signals.trainingChanged.connect(self._on_training_changed)
            self.refresh()

    def _on_training_changed(self, key: str) -> None:
        self.refresh(options=key == "dataset" and not self._typing_option)

    @property
    def training(self) -> dict[str, Any]:
        return self.session.document.training if self.session else {}

    def refresh(self, options: bool = True) -> None:
        """Show the document's values (after load, undo or another editor's change)."""
        t = self.training
        self._quiet = True
        try:
            self._show_combo(self.task, t.get("task", ""))
            self._show_combo(self.dataset, self._dataset_spec().get("name", ""))
            self._show_combo(self.loss, t.get("loss", ""))
            opt = t.get("optimizer", {})
            opt = {"name": opt} if isinstance(opt, str) else dict(opt or {})
            self._show_combo(self.optimizer, opt.get("name", "adam"))
            self.lr.setValue(float(opt.get("lr", 0.001)))
            for box, key, default in ((self.epochs, "epochs", 10), (self.batch_size, "batch_size", 64),
                                      (self.seed, "seed", 0)):
                value = t.get(key, default)
                box.setValue(int(value) if isinstance(value, int | float) else default)
            self._show_combo(self.device, str(t.get("device", "auto")))
            if options:
                self._build_options()
        finally:
            self._quiet = False

    def _show_combo(self, box: QComboBox, value: str) -> None:
        value = str(value)
        if box.findText(value) < 0 and value:
            box.addItem(value)
        if box.currentText() != value:
            box.setCurrentText(value)

    def _dataset_spec(self) -> dict[str, Any]:
        spec = self.training.get("dataset", {})
        return {"name": spec} if isinstance(spec, str) else dict(spec or {})

    def _build_options(self) -> None:
        """One field per option the dataset declares, plus any the document already has."""
        while self.options.rowCount():
            self.options.removeRow(0)
        spec = self._dataset_spec()
        entry = dataset_entries().get(spec.get("name"))
        declared = dict(entry.options) if entry else {}
        for key in [k for k in spec if k != "name" and k not in declared]:
            declared[key] = ""
        for key, doc in declared.items():
            field = QLineEdit(json.dumps(spec[key]) if key in spec else "")
            field.setPlaceholderText("default")
            field.setToolTip(doc or key)
            field.setObjectName(f"dataset_{key}")
            field.textEdited.connect(lambda text, k=key: self._set_option(k, text))
            label = QLabel(key)
            label.setToolTip(doc or key)
            self.options.addRow(label, field)
        self.options_host.setVisible(bool(declared))

    # ---- edits -------------------------------------------------------------------------

    def _set(self, key: str, value: Any) -> None:
        if not self._quiet and self.session is not None and value != "":
            self.session.set_training(key, value)

    def _set_nested(self, key: str, field: str, value: Any) -> None:
        if self._quiet or self.session is None:
            return
        current = self.training.get(key, {})
        obj = {"name": current} if isinstance(current, str) else copy.deepcopy(current or {})
        obj[field] = value
        self.session.set_training(key, obj)

    def _dataset_name_changed(self, name: str) -> None:
        if self._quiet or self.session is None or not name.strip():
            return
        old = self.training.get("dataset")
        entry = dataset_entries().get(name)
        if isinstance(old, dict):
            keep = {k: v for k, v in old.items() if entry and k in entry.options}
            value: Any = {"name": name, **keep}
        else:
            value = name
        self.session.set_training("dataset", value)

    def _set_option(self, key: str, text: str) -> None:
        if self.session is None:
            return
        spec = self._dataset_spec()
        if text.strip():
            spec[key] = parse_option(text)
        else:
            spec.pop(key, None)
        self._typing_option = True  # do not rebuild the field being typed into
        try:
            self.session.set_training("dataset", spec)
        finally:
            self._typing_option = False
