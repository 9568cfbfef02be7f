"""The Training tab's help with the user's own data: Browse… for the path, and the CSV's
columns to pick the target from (the columns come with the dataset summary, read off the
GUI thread by `DatasetInfo`)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from gui.editor.text import format_option

# dataset -> (file dialog filter, the path is a folder)
PATH_KINDS = {"csv": ("CSV files (*.csv);;All files (*)", False),
              "npz": ("NumPy archives (*.npz);;All files (*)", False),
              "image_folder": ("", True)}

PathPicker = Callable[[QWidget, str, str], "str | None"]


def pick_path(parent: QWidget, dataset: str, current: str) -> str | None:
    """Ask for the file (or, for an image folder, the folder) of `dataset`."""
    file_filter, folder = PATH_KINDS[dataset]
    if folder:
        return QFileDialog.getExistingDirectory(parent, "Choose the image folder", current) or None
    path, _ = QFileDialog.getOpenFileName(parent, f"Choose the {dataset} file", current,
                                          file_filter)
    return path or None


def path_row(field: QLineEdit, dataset: str, ask: Callable[[], str | None],
             apply: Callable[[str], None]) -> QWidget:
    """`field` with a Browse… button beside it; a chosen path is written as the option."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(field, 1)
    button = QPushButton("Browse…")
    button.setObjectName("browseData")
    button.setToolTip("Choose the folder of class sub-folders" if PATH_KINDS[dataset][1]
                      else f"Choose the .{dataset} file")

    def browse() -> None:
        path = ask()
        if path:
            field.setText(format_option(path))
            apply(path)

    button.clicked.connect(browse)
    layout.addWidget(button)
    row.browse = button  # for the tests and for focus order
    return row


def target_box(current: str | None, apply: Callable[[str], None]) -> QComboBox:
    """The CSV's target column, chosen from the columns found (filled by `show_columns`)."""
    box = QComboBox()
    box.setObjectName("dataset_target")
    box.setToolTip("the column to predict (default: the last)")
    if current:
        box.addItem(current)
    box.activated.connect(lambda index: apply(box.itemText(index)))
    return box


def show_columns(box: QComboBox, columns: tuple[str, ...], target: str) -> None:
    """Offer `columns`, with `target` selected, without writing to the document."""
    box.blockSignals(True)
    try:
        box.clear()
        box.addItems(list(columns))
        box.setCurrentText(target)
    finally:
        box.blockSignals(False)


__all__ = ["PATH_KINDS", "path_row", "pick_path", "show_columns", "target_box"]
