"""The document's training section as a form built from engine/training/schema.

Every field comes from a setting's declaration (kind, range, default, doc), so
a setting added to the schema appears here with nothing else to write; the
fields of a section (optimizer momentum, the `dqn` knobs, ...) are shown only
for the task, and the optimizer or schedule, that read them. Every edit is a
`SetTrainingCommand`: keys the form does not know stay untouched (nested ones
such as `optimizer.lr` are written back as a copy of the whole object with
one field changed), so files keep what they had.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QWidget,
)

from engine.runs.space import parse_value
from engine.training import schema
from gui import theme
from gui.editor import own_data
from gui.editor.dataset_info import DatasetInfo
from gui.editor.session import EditorSession
from gui.editor.setting_fields import REMOVE, SettingField
from gui.editor.text import format_option

# The form's first rows, with their own widgets; every other declared setting follows.
OWN_ROWS = ("task", "dataset")
DEFAULT_KEYS = {"epochs": ("", "epochs"), "lr": ("optimizer", "lr")}  # (section, key)


def dataset_entries() -> dict[str, Any]:
    from engine.data import REGISTRY

    return dict(REGISTRY)


def available_devices() -> list[str]:
    """The devices torch finds; before PyTorch has loaded (start-up), just auto and cpu."""
    if "torch" not in sys.modules:  # the window paints first; RunControl refreshes us later
        return ["auto", "cpu"]
    from engine.training.setup import available_devices as devices

    return devices()


def _field_key(setting: schema.Setting) -> str:
    return f"{setting.section}.{setting.key}" if setting.section else setting.key


class TrainingEditor(QScrollArea):
    """Task, dataset (+ options), then every declared setting that the task reads.

    A scroll area: the DQN alone has twenty settings, more than a dock's height.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: EditorSession | None = None
        self._quiet = False
        self._typing_option = False
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidget(QWidget())
        self.form = QFormLayout(self.widget())
        self.fields: dict[str, SettingField] = {}
        self.headers: dict[str, QLabel] = {}
        self._add_field(schema.lookup("", "task"), "Task")
        self.dataset = self._dataset_box()
        self.form.addRow("Dataset", self.dataset)
        self.options_host = QWidget()
        self.options = QFormLayout(self.options_host)
        self.options.setContentsMargins(0, 0, 0, 0)
        self.form.addRow("", self.options_host)
        self.dataset_info = DatasetInfo()
        self._describe_later = False  # asked before PyTorch had loaded (see engine_loaded)
        self.form.addRow("", self.dataset_info)
        self.pick_path = own_data.pick_path  # tests answer the file dialog themselves
        self.target_box: QComboBox | None = None
        self.dataset_info.summarised.connect(self._show_columns)
        for setting in schema.TOP_SETTINGS.values():
            if setting.key not in OWN_ROWS:
                self._add_field(setting)
        for section in schema.SECTIONS.values():
            self._add_section(section)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.setObjectName("training_problems")
        self.form.addRow(self.problems)
        self._show_devices()
        self.setEnabled(False)

    # ---- building the form from the declaration ----------------------------------------------

    def _add_field(self, setting: schema.Setting, label: str | None = None) -> SettingField:
        key = _field_key(setting)
        field = SettingField(setting, lambda value, s=setting: self._edit(s, value))
        self.fields[key] = field
        title = QLabel(label or setting.title)
        title.setToolTip(field.widget.toolTip())
        self.form.addRow(title, field.widget)
        return field

    def _add_section(self, section: schema.Section) -> None:
        header = QLabel(f"<b>{section.title}</b>")
        header.setToolTip(section.doc)
        self.headers[section.name] = header
        self.form.addRow(header)
        for setting in section.settings:
            if setting.kind != "object":  # per-network objects are edited in the file
                self._add_field(setting)

    def _dataset_box(self) -> QComboBox:
        box = QComboBox()
        box.setEditable(True)
        entries = dataset_entries()
        for name in sorted(entries, key=str.lower):
            box.addItem(name)
            box.setItemData(box.count() - 1, entries[name].doc, Qt.ItemDataRole.ToolTipRole)
        box.setToolTip(schema.lookup("", "dataset").doc)
        box.currentTextChanged.connect(self._dataset_name_changed)
        return box

    def _show_devices(self) -> None:
        box = self.fields["device"].widget
        box.addItems(available_devices())

    def engine_loaded(self) -> None:
        """PyTorch has loaded (gui.app's background loader): every device, the dataset's facts."""
        self.refresh_devices()
        if self._describe_later:
            self._show_dataset_info()

    def refresh_devices(self) -> None:
        """Offer every device, keeping the value shown."""
        box = self.fields["device"].widget
        current = box.currentText()
        box.blockSignals(True)
        try:
            box.clear()
            self._show_devices()
            if box.findText(current) < 0:
                box.addItem(current)
            box.setCurrentText(current)
        finally:
            box.blockSignals(False)

    # Names the GUI tests and other panels use for the common fields.
    @property
    def task(self) -> QComboBox:
        return self.fields["task"].widget

    @property
    def loss(self) -> QComboBox:
        return self.fields["loss"].widget

    @property
    def optimizer(self) -> QComboBox:
        return self.fields["optimizer.name"].widget

    @property
    def lr(self):
        return self.fields["optimizer.lr"].widget

    @property
    def epochs(self):
        return self.fields["epochs"].widget

    @property
    def batch_size(self):
        return self.fields["batch_size"].widget

    @property
    def seed(self):
        return self.fields["seed"].widget

    @property
    def device(self) -> QComboBox:
        return self.fields["device"].widget

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

    def _task(self) -> str | None:
        task = self.training.get("task")
        return task if isinstance(task, str) and task in schema.TASKS else None

    def refresh(self, options: bool = True) -> None:
        """Show the document's values (after load, undo or another editor's change)."""
        self._quiet = True
        try:
            self._show_combo(self.dataset, self._dataset_spec().get("name", ""))
            task = self._task()
            for field in self.fields.values():
                s = field.setting
                field.show(self._value(s), task, self._section_name(s.section))
            self._show_visibility(task)
            self._show_problems(task)
            if options:
                self._build_options()
            self._show_dataset_info()
        finally:
            self._quiet = False

    def _show_dataset_info(self) -> None:
        if "torch" not in sys.modules:  # start-up: reading data would load torch too early;
            self._describe_later = True  # engine_loaded() shows it once PyTorch is there
            return
        self._describe_later = False
        from engine.data import data_folder

        self.dataset_info.show_for(self.training, data_folder(self.session.document))

    def _value(self, setting: schema.Setting) -> Any:
        """The document's value; unset epochs and rate show what the trainer will use
        (the dataset's own, engine/data/defaults.py) rather than the schema's."""
        if not setting.section:
            value = self.training.get(setting.key)
        else:
            value = self._section(setting.section).get(setting.key)
        own = [k for k, where in DEFAULT_KEYS.items() if where == (setting.section, setting.key)]
        if value is None and own:
            from engine.data.defaults import dataset_defaults

            return dataset_defaults(self.training).get(own[0])
        return value

    def _section(self, name: str) -> dict[str, Any]:
        raw = self.training.get(name)
        return copy.deepcopy(schema.SECTIONS[name].normalised(raw))

    def _section_name(self, section: str) -> str | None:
        if not section:
            return None
        name = self._section(section).get("name")
        return name.lower() if isinstance(name, str) else None

    def _show_visibility(self, task: str | None) -> None:
        """A field shows when its task (and its section's optimizer or schedule) reads it."""
        shown: set[str] = set()
        for field in self.fields.values():
            s = field.setting
            section = schema.SECTIONS.get(s.section)
            name = self._section_name(s.section) or (
                schema.default(s.section, "name") if section and section.shorthand else None)
            visible = s.applies_to(task, name) and (section is None or section.applies_to(task))
            self.form.setRowVisible(field.widget, visible)
            if visible:
                shown.add(s.section)
        for name, header in self.headers.items():
            self.form.setRowVisible(header, name in shown)

    def _show_problems(self, task: str | None) -> None:
        """The schema's findings under the form, and on the field each one is about."""
        found = list(schema.findings(self.training))
        by_field = {}
        for finding in found:
            key = finding.path.removeprefix("training.")
            key = f"{key}.name" if key in schema.SECTIONS else key
            by_field.setdefault(key, finding.message)
        for key, field in self.fields.items():
            field.mark(by_field.get(key), task)
        lines = []
        for finding in found:
            error = finding.level in ("type", "value")
            colour = (theme.ERROR if error else theme.WARNING).name()
            lines.append(f"<span style='color:{colour}'>{'✖' if error else '▲'} "
                         f"{finding}</span>")
        self.problems.setText("<br>".join(lines))
        self.form.setRowVisible(self.problems, bool(lines))

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
        self.target_box = None
        for key, doc in declared.items():
            label = QLabel(key)
            label.setToolTip(doc or key)
            self.options.addRow(label, self._option_widget(spec, key, doc))
        self.options_host.setVisible(bool(declared))

    def _option_widget(self, spec: dict[str, Any], key: str, doc: str) -> QWidget:
        """A text field per option; own data gets Browse… and the CSV a target column list."""
        name = spec.get("name", "")
        if name == "csv" and key == "target":
            self.target_box = own_data.target_box(
                spec.get("target"), lambda column: self._set_option("target", json.dumps(column)))
            return self.target_box
        field = QLineEdit(format_option(spec[key]) if key in spec else "")
        field.setPlaceholderText("default")
        field.setToolTip(doc or key)
        field.setObjectName(f"dataset_{key}")
        field.textEdited.connect(lambda text, k=key: self._set_option(k, text))
        if key != "path" or name not in own_data.PATH_KINDS:
            return field
        return own_data.path_row(
            field, name, lambda: self.pick_path(self, name, str(spec.get("path", ""))),
            lambda path: self._set_option("path", json.dumps(path)))

    def _show_columns(self, summary: Any) -> None:
        if self.target_box is not None and summary is not None and summary.columns:
            own_data.show_columns(self.target_box, summary.columns, summary.target_column)

    # ---- edits -------------------------------------------------------------------------

    def _edit(self, setting: schema.Setting, value: Any) -> None:
        """Write one field: a top-level key, or a copy of its section with one key changed."""
        if self._quiet or self.session is None:
            return
        if not setting.section:
            if value != "":  # None removes the key (Document.set_training)
                self.session.set_training(setting.key, None if value is REMOVE else value)
            return
        section = self._section(setting.section)
        if value is REMOVE:
            section.pop(setting.key, None)
        else:
            section[setting.key] = value
        self.session.set_training(setting.section, section)

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
        self._pick_dataset(value)

    def _pick_dataset(self, value: Any) -> None:
        """Set the dataset and, as the same undo step, its own epochs and learning rate
        (engine/data/defaults.py) where the person has not chosen theirs: unset, the
        schema's default, or the previous dataset's."""
        from engine.data.defaults import dataset_defaults

        training = self.training
        optimizer = self._section("optimizer")
        before = dataset_defaults(training)
        current = {"epochs": training.get("epochs"), "lr": optimizer.get("lr")}
        chosen = {k: v for k, v in dataset_defaults({"dataset": value}).items()
                  if current[k] in (None, schema.default(*DEFAULT_KEYS[k]), before.get(k))
                  and current[k] != v}
        if self.session.locked or not chosen:
            self.session.set_training("dataset", value)
            return
        stack = self.session.undo_stack
        stack.beginMacro(f"Pick dataset {self._dataset_label(value)}")
        try:
            self.session.set_training("dataset", value)
            if "epochs" in chosen:
                self.session.set_training("epochs", chosen["epochs"])
            if "lr" in chosen:
                self.session.set_training("optimizer", {**optimizer, "lr": chosen["lr"]})
        finally:
            stack.endMacro()

    @staticmethod
    def _dataset_label(value: Any) -> str:
        return value.get("name", "") if isinstance(value, dict) else str(value)

    def _set_option(self, key: str, text: str) -> None:
        if self.session is None:
            return
        spec = self._dataset_spec()
        if text.strip():
            spec[key] = parse_value(text)
        else:
            spec.pop(key, None)
        self._typing_option = True  # do not rebuild the field being typed into
        try:
            self.session.set_training("dataset", spec)
        finally:
            self._typing_option = False
