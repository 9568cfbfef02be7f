"""A person's own data: a CSV table, a NumPy `.npz` archive, or a folder of images per class.

Every error names the file (and the line or column where there is one) and says what
to change, because the person reading it made the file and can fix it.
Relative paths are taken from the current working directory.
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.base import ArrayDataset, DatasetEntry, option, register
from engine.data.splits import split_indices, standardize
from engine.errors import DatasetError

TASKS = ("classification", "regression")
MAX_INFERRED_CLASSES = 20  # an integer target with more distinct values is taken as a quantity


def _path(spec: dict[str, Any], what: str, folder: bool = False) -> Path:
    raw = spec.get("path")
    if not isinstance(raw, str) or not raw:
        raise DatasetError(f"training.dataset.path: the {spec['name']} dataset needs the path "
                           f"of {what}")
    path = Path(raw).expanduser()
    if folder and not path.is_dir():
        raise DatasetError(f"{path}: folder not found" if not path.exists()
                           else f"{path}: expected a folder of class sub-folders, not a file")
    if not folder and not path.is_file():
        raise DatasetError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    return path


# -- CSV --------------------------------------------------------------------------------


def _open_csv(path: Path) -> tuple[list[str], Any, Any]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
        sample = handle.read(8192)
        handle.seek(0)
    except UnicodeDecodeError as exc:
        handle.close()
        raise _not_utf8(path, exc) from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc})") from exc
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # one column, or too little text to tell: plain commas
    reader = csv.reader(handle, dialect)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        handle.close()
        raise DatasetError(f"{path}: cannot read the header line ({exc})") from exc
    if not header or not any(h.strip() for h in header):
        handle.close()
        raise DatasetError(f"{path}: empty file; the first line must name the columns")
    return [h.strip() for h in header], reader, handle


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> DatasetError:
    return DatasetError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} cannot be "
                        "decoded); save it as \"CSV UTF-8\"")


def _target(path: Path, header: list[str], spec: dict[str, Any]) -> int:
    target = spec.get("target", header[-1])
    if target not in header:
        raise DatasetError(f"{path}: no column '{target}' for the target "
                           f"(columns: {', '.join(header)})")
    if len(header) < 2:
        raise DatasetError(f"{path}: needs at least one feature column besides the target")
    return header.index(target)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_rows(path: Path, header: list[str], column: int, reader: Any,
               rows: list[list[float]], targets: list[tuple[str, int]]) -> None:
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise DatasetError(f"{path}, line {line}: {len(row)} fields, but the header "
                               f"names {len(header)} columns")
        values = []
        for i, cell in enumerate(row):
            if i == column:
                continue
            value = _number(cell.strip())
            if value is None:
                what = "a missing value" if not cell.strip() else f"'{cell.strip()}'"
                raise DatasetError(
                    f"{path}, line {line}: column '{header[i]}' holds {what}, not a "
                    "number; features must be numeric (drop or encode that column)")
            values.append(value)
        if not row[column].strip():
            raise DatasetError(f"{path}, line {line}: the target '{header[column]}' is empty")
        rows.append(values)
        targets.append((row[column].strip(), line))


def _csv(spec: dict[str, Any], seed: int) -> ArrayDataset:
    path = _path(spec, "a CSV file")
    header, reader, handle = _open_csv(path)
    rows: list[list[float]] = []
    targets: list[tuple[str, int]] = []
    with handle:
        column = _target(path, header, spec)
        try:
            _read_rows(path, header, column, reader, rows, targets)
        except csv.Error as exc:
            raise DatasetError(f"{path}, line {reader.line_num + 1}: not valid CSV "
                               f"({exc})") from exc
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
    if len(rows) < 5:
        raise DatasetError(f"{path}: {len(rows)} data rows; at least 5 are needed to split "
                           "into training, validation and test")
    x = np.asarray(rows, np.float64)
    features = [name for i, name in enumerate(header) if i != column]
    task = option(spec, "task", None, str, choices=TASKS) or _infer_task(targets)
    info = {"path": str(path), "target": header[column], "features": features, "task": task}
    if task == "regression":
        y = np.empty((len(targets), 1), np.float32)
        for i, (text, line) in enumerate(targets):
            value = _number(text)
            if value is None:
                raise DatasetError(f"{path}, line {line}: target '{header[column]}' is "
                                   f"'{text}', not a number (regression needs numbers)")
            y[i, 0] = value
        splits = split_indices(len(y), seed)
        return ArrayDataset("csv", standardize(x, splits["train"]), y, splits, None, None, info)
    labels, names = _class_ids([t for t, _ in targets])
    splits = split_indices(len(labels), seed, labels)
    return ArrayDataset("csv", standardize(x, splits["train"]), labels, splits, len(names),
                        names, info)


def _infer_task(targets: list[tuple[str, int]]) -> str:
    numbers = [_number(t) for t, _ in targets]
    if any(v is None for v in numbers):
        return "classification"
    integral = all(float(v).is_integer() for v in numbers)  # type: ignore[arg-type]
    return "classification" if integral and len(set(numbers)) <= MAX_INFERRED_CLASSES \
        else "regression"


def _class_ids(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Class ids in a stable order: numerically for numbers (2 before 10), else alphabetically."""
    distinct = set(values)
    if all(_number(v) is not None for v in distinct):
        names = sorted(distinct, key=lambda v: float(v))
    else:
        names = sorted(distinct)
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[v] for v in values], np.int64), names


def _csv_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    path = _path(spec, "a CSV file")
    header, _, handle = _open_csv(path)
    handle.close()
    _target(path, header, spec)  # a missing target column shows while editing, not at training
    return {"x": (None, len(header) - 1)}


register(DatasetEntry(
    "csv", "A CSV table with a header row: numeric feature columns (standardised) and one "
    "target column (class names or numbers).", "arrays", _csv, _csv_shapes,
    {"path": "the CSV file", "target": "name of the target column (default: the last)",
     "task": "\"classification\" or \"regression\" (default: guessed from the target)"},
))


# -- npz --------------------------------------------------------------------------------


def _npz(spec: dict[str, Any], seed: int) -> ArrayDataset:
    path = _path(spec, "an .npz file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path}: cannot read the .npz archive ({exc})") from exc
    if "x" not in arrays:
        raise DatasetError(f"{path}: no array named 'x' (arrays: {', '.join(arrays) or 'none'}); "
                           "save it with numpy.savez(path, x=..., y=...)")
    x, y = arrays["x"], arrays.get("y")
    if x.ndim < 1 or len(x) < 3:
        raise DatasetError(f"{path}: 'x' has shape {x.shape}; samples go along axis 0")
    x = x.astype(np.int64) if x.dtype.kind in "iu" else x.astype(np.float32)
    if y is None:  # an autoencoder or a GAN needs no target
        return ArrayDataset("npz", x, None, split_indices(len(x), seed), info={"path": str(path)})
    if len(y) != len(x):
        raise DatasetError(f"{path}: 'x' has {len(x)} samples but 'y' has {len(y)}")
    task = option(spec, "task", None, str, choices=TASKS)
    task = task or ("classification" if y.dtype.kind in "iub" and y.ndim == 1 else "regression")
    info = {"path": str(path), "task": task}
    if task == "regression":
        y = y.astype(np.float32).reshape(len(y), -1) if y.ndim == 1 else y.astype(np.float32)
        return ArrayDataset("npz", x, y, split_indices(len(x), seed), None, None, info)
    if y.dtype.kind not in "iub" or (y.ndim == 1 and y.size and y.min() < 0):
        raise DatasetError(f"{path}: 'y' must hold class ids 0, 1, 2, ... for classification "
                           f"(got dtype {y.dtype})")
    y = y.astype(np.int64)
    count = int(y.max()) + 1 if y.size else 0
    names = [str(c) for c in range(count)]
    if "class_names" in arrays:
        names = [str(n) for n in arrays["class_names"]]
        if len(names) < count:
            raise DatasetError(f"{path}: 'class_names' has {len(names)} names but 'y' holds "
                               f"class ids up to {count - 1}")
    return ArrayDataset("npz", x, y, split_indices(len(x), seed, y), len(names), names, info)


def _npz_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    """Read only the header of x.npy inside the archive: the data may be large."""
    path = _path(spec, "an .npz file")
    try:
        with zipfile.ZipFile(path) as archive, archive.open("x.npy") as member:
            version = np.lib.format.read_magic(member)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape = read(member)[0]
    except KeyError as exc:
        raise DatasetError(f"{path}: no array named 'x'; save it with "
                           "numpy.savez(path, x=..., y=...)") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path}: cannot read the .npz archive ({exc})") from exc
    return {"x": (None, *shape[1:])}


register(DatasetEntry(
    "npz", "A NumPy archive with arrays x (samples along axis 0) and optionally y "
    "(integer class ids or float targets) and class_names.", "arrays", _npz, _npz_shapes,
    {"path": "the .npz file",
     "task": "\"classification\" or \"regression\" (default: integer y is classes)"},
))


# -- image folder -----------------------------------------------------------------------

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pbm", ".pnm",
                  ".tif", ".tiff", ".webp")


def _image_classes(folder: Path) -> dict[str, list[Path]]:
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise DatasetError(f"{folder}: no class sub-folders; put the images of each class in a "
                           "sub-folder named after the class")
    classes = {}
    for sub in subfolders:
        files = sorted(p for p in sub.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(f"{sub}: empty class folder (no {', '.join(IMAGE_SUFFIXES)} files)")
        classes[sub.name] = files
    return classes


def _open_image(file: Path) -> Any:
    from PIL import Image, UnidentifiedImageError  # only needed for image folders

    try:
        return Image.open(file)  # reads the header only; pixels are decoded on use
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"{file}: cannot read the image ({exc})") from exc


def _size(spec: dict[str, Any], first: Path | None) -> tuple[int, int]:
    """(height, width): `image_size` as n or [h, w], else the first image's size."""
    value = spec.get("image_size")
    if value is None:
        with _open_image(first) as image:  # type: ignore[arg-type]
            return image.height, image.width
    pair = value if isinstance(value, list | tuple) else [value, value]
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
        raise DatasetError(f"training.dataset.image_size: expected a positive size n or "
                           f"[height, width], got {value!r}")
    return int(pair[0]), int(pair[1])


def _image_folder(spec: dict[str, Any], seed: int) -> ArrayDataset:
    from PIL import Image

    folder = _path(spec, "a folder of class sub-folders", folder=True)
    grayscale = option(spec, "grayscale", False, bool)
    classes = _image_classes(folder)
    files = [(f, c) for c, (_, paths) in enumerate(classes.items()) for f in paths]
    height, width = _size(spec, files[0][0])
    channels = 1 if grayscale else 3
    x = np.empty((len(files), channels, height, width), np.float32)
    for i, (file, _) in enumerate(files):
        try:
            with _open_image(file) as image:
                converted = image.convert("L" if grayscale else "RGB")
                if converted.size != (width, height):
                    converted = converted.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(converted, np.float32) / 255.0
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{file}: cannot read the image ({exc})") from exc
        x[i] = pixels[None] if grayscale else pixels.transpose(2, 0, 1)
    y = np.array([c for _, c in files], np.int64)
    if len(y) < 3:
        raise DatasetError(f"{folder}: {len(y)} images; at least 3 are needed to split into "
                           "training, validation and test")
    return ArrayDataset("image_folder", x, y, split_indices(len(y), seed, y), len(classes),
                        list(classes), {"path": str(folder), "image_size": (height, width)})


def _image_folder_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    channels = 1 if option(spec, "grayscale", False, bool) else 3
    if spec.get("image_size") is not None:
        height, width = _size(spec, None)
    else:
        folder = _path(spec, "a folder of class sub-folders", folder=True)
        height, width = _size(spec, next(iter(_image_classes(folder).values()))[0])
    return {"x": (None, channels, height, width)}


register(DatasetEntry(
    "image_folder", "A folder with one sub-folder of images per class (PNG, JPEG, BMP, ...), "
    "pixels in [0, 1].", "arrays", _image_folder, _image_folder_shapes,
    {"path": "the folder holding the class sub-folders",
     "image_size": "n or [height, width] to resize to (default: the first image's size)",
     "grayscale": "one channel instead of three (default false)"},
))
