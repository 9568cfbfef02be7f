"""A person's own data: a CSV table, a NumPy `.npz` archive, or a folder of images per class.

Every error names the file (and the line or column where there is one) and says what
to change, because the person reading it made the file and can fix it.
Relative paths are resolved by engine/data/__init__.py against the document's folder
before a spec reaches this module.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import streaming
from engine.data.base import ArrayDataset, DataFacts, DatasetEntry, option, register
from engine.data.csv_table import (
    class_ids,
    count_lines,
    first_non_number,
    open_csv,
    read_table,
    target_column,
)
from engine.data.row_file import RowFile
from engine.data.splits import split_indices, standardize
from engine.data.streaming import (
    ASKED,
    ImageRows,
    MappedRows,
    StandardRows,
    npz_member,
)
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


def _csv(spec: dict[str, Any], seed: int) -> ArrayDataset:
    path = _path(spec, "a CSV file")
    table = read_table(path, spec, _streams(path, spec))
    count = len(table)
    if count < 5:
        raise DatasetError(f"{path}: {count} data rows; at least 5 are needed to split "
                           "into training, validation and test")
    name = table.header[table.column]
    task = option(spec, "task", None, str, choices=TASKS) or _infer_task(table.values)
    info = {"path": str(path), "target": name, "features": table.features, "task": task}
    if task == "regression":
        if table.values is None:
            raise first_non_number(path, table.header, table.column)
        y = table.values.astype(np.float32).reshape(count, 1)
        splits = split_indices(count, seed)
        return ArrayDataset("csv", _features(table, splits["train"]), y, splits, None, None, info)
    labels, names = class_ids(table)
    splits = split_indices(count, seed, labels)
    return ArrayDataset("csv", _features(table, splits["train"]), labels, splits, len(names),
                        names, info)


def _streams(path: Path, spec: dict[str, Any]) -> bool:
    """Whether this run streams the CSV, its features parsed into a row file on disk.

    Streamed when the run asks (training.data.streaming), or, left to size, when the
    features as float32 would exceed streaming.STREAM_ABOVE (lines × columns × 4 bytes).
    """
    asked = spec.get(ASKED, False)
    if asked is None:
        header, _, handle, _ = open_csv(path)
        handle.close()
        asked = count_lines(path) * (len(header) - 1) * 4 > streaming.STREAM_ABOVE
    return bool(asked)


def _features(table: Any, train: np.ndarray) -> Any:
    """Standardised features: in memory, or read from the row file batch by batch."""
    if isinstance(table.x, RowFile):
        return StandardRows(table.x, train, table.blocks)
    return standardize(table.x, train)


def _infer_task(target: np.ndarray | None) -> str:
    """Text is classes; integers are classes when there are few of them; else quantities."""
    if target is None:
        return "classification"
    integral = bool(np.all(np.mod(target, 1.0) == 0))
    few = len(np.unique(target)) <= MAX_INFERRED_CLASSES
    return "classification" if integral and few else "regression"


def _csv_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    path = _path(spec, "a CSV file")
    header, _, handle, _ = open_csv(path)
    handle.close()
    target_column(path, header, spec)  # a missing target column shows while editing, not at training
    return {"x": (None, len(header) - 1)}


register(DatasetEntry(
    "csv", "A CSV table with a header row: numeric feature columns (standardised) and one "
    "target column (class names or numbers).", "arrays", _csv, _csv_shapes,
    {"path": "the CSV file", "target": "name of the target column (default: the last)",
     "task": "\"classification\" or \"regression\" (default: guessed from the target)"},
))


# -- npz --------------------------------------------------------------------------------


def _archive(path: Path, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays `names` (all when None) of the archive, or an error saying what the file is."""
    if not zipfile.is_zipfile(path):
        raise _not_npz(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            wanted = archive.files if names is None else [n for n in names if n in archive.files]
            return {k: archive[k] for k in wanted}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path}: cannot read the .npz archive ({exc})") from exc


def _not_npz(path: Path) -> DatasetError:
    """np.load would try a pickle and talk of allow_pickle; say what the file really is."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(6)
    except OSError as exc:
        return DatasetError(f"{path}: cannot read the file ({exc})")
    if start == b"\x93NUMPY":
        return DatasetError(f"{path}: cannot read it as .npz: this is a single .npy array; save "
                            "the arrays with numpy.savez(path, x=..., y=...)")
    return DatasetError(f"{path}: cannot read it: not an .npz file (an .npz is the zip archive "
                        "numpy.savez(path, x=..., y=...) writes)")


def _npz_target(path: Path, y: np.ndarray, names: np.ndarray | None, samples: int,
                spec: dict[str, Any]) -> tuple[str, np.ndarray, list[str] | None]:
    """(task, y as trained on, class names or None): the rules for 'y' in one place."""
    if len(y) != samples:
        raise DatasetError(f"{path}: 'x' has {samples} samples but 'y' has {len(y)}")
    task = option(spec, "task", None, str, choices=TASKS)
    task = task or ("classification" if y.dtype.kind in "iub" and y.ndim == 1 else "regression")
    if task == "regression":
        return task, (y.astype(np.float32).reshape(len(y), -1) if y.ndim == 1
                      else y.astype(np.float32)), None
    if y.dtype.kind not in "iub" or (y.ndim == 1 and y.size and y.min() < 0):
        raise DatasetError(f"{path}: 'y' must hold class ids 0, 1, 2, ... for classification "
                           f"(got dtype {y.dtype})")
    y = y.astype(np.int64)
    count = int(y.max()) + 1 if y.size else 0
    labels = [str(c) for c in range(count)]
    if names is not None:
        labels = [str(n) for n in names]
        if len(labels) < count:
            raise DatasetError(f"{path}: 'class_names' has {len(labels)} names but 'y' holds "
                               f"class ids up to {count - 1}")
    return task, y, labels


def _npz(spec: dict[str, Any], seed: int) -> ArrayDataset:
    path = _path(spec, "an .npz file")
    x = _mapped_x(path)  # memory-mapped where stored uncompressed: read only if needed
    arrays = _archive(path, None if x is None else ("y", "class_names"))
    if x is None and "x" not in arrays:
        raise DatasetError(f"{path}: no array named 'x' (arrays: {', '.join(arrays) or 'none'}); "
                           "save it with numpy.savez(path, x=..., y=...)")
    x, y = arrays["x"] if x is None else x, arrays.get("y")
    if x.ndim < 1 or len(x) < 3:
        raise DatasetError(f"{path}: 'x' has shape {x.shape}; samples go along axis 0")
    dtype = np.int64 if x.dtype.kind in "iu" else np.float32
    x = MappedRows(x, dtype) if isinstance(x, np.memmap) else x.astype(dtype)
    if y is None:  # an autoencoder or a GAN needs no target
        return ArrayDataset("npz", x, None, split_indices(len(x), seed), info={"path": str(path)})
    task, y, names = _npz_target(path, y, arrays.get("class_names"), len(x), spec)
    info = {"path": str(path), "task": task}
    if names is None:
        return ArrayDataset("npz", x, y, split_indices(len(x), seed), None, None, info)
    return ArrayDataset("npz", x, y, split_indices(len(x), seed, y), len(names), names, info)


def _mapped_x(path: Path) -> np.memmap | None:
    """'x' mapped in place (see streaming.npz_member); None: compressed, absent or unreadable."""
    if not zipfile.is_zipfile(path):
        raise _not_npz(path)
    try:
        return npz_member(path, "x")
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None  # the in-memory reader names the problem


def _npz_facts(spec: dict[str, Any]) -> DataFacts:
    """Classes or target shape from 'y' alone: 'x' may be large and is not read."""
    path = _path(spec, "an .npz file")
    shapes = _npz_shapes(spec)
    arrays = _archive(path, ("y", "class_names"))
    if "y" not in arrays:
        return DataFacts("arrays", shapes)
    samples = _npz_samples(path)
    task, y, names = _npz_target(path, arrays["y"], arrays.get("class_names"), samples, spec)
    if names is None:
        return DataFacts("arrays", shapes, None, (None, *y.shape[1:]))
    return DataFacts("arrays", shapes, len(names), (None, *y.shape[1:]))


def _npz_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    """Read only the header of x.npy inside the archive: the data may be large."""
    path = _path(spec, "an .npz file")
    return {"x": (None, *_x_shape(path)[1:])}


def _npz_samples(path: Path) -> int:
    shape = _x_shape(path)
    return shape[0] if shape else 0


def _x_shape(path: Path) -> tuple[int, ...]:
    if not zipfile.is_zipfile(path):
        raise _not_npz(path)
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
    return tuple(shape)


register(DatasetEntry(
    "npz", "A NumPy archive with arrays x (samples along axis 0) and optionally y "
    "(integer class ids or float targets) and class_names.", "arrays", _npz, _npz_shapes,
    {"path": "the .npz file",
     "task": "\"classification\" or \"regression\" (default: integer y is classes)"},
    facts=_npz_facts,
))


# -- image folder -----------------------------------------------------------------------

MAX_SIDE = 256  # default image_size: the first image's, scaled so its longest side fits
MAX_IMAGE_BYTES = 4 << 30  # the decoded float32 array of a whole folder
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
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{file}: the image is too large to decode safely ({exc}); shrink "
                           "it before training") from exc
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"{file}: cannot read the image ({exc})") from exc


def _size(spec: dict[str, Any], first: Path | None) -> tuple[int, int]:
    """(height, width): `image_size` as n or [h, w], else the first image's size within MAX_SIDE."""
    value = spec.get("image_size")
    if value is None:
        with _open_image(first) as image:  # type: ignore[arg-type]
            height, width = image.height, image.width
        scale = min(1.0, MAX_SIDE / max(height, width))  # a photo becomes a trainable size
        return max(1, round(height * scale)), max(1, round(width * scale))
    pair = value if isinstance(value, list | tuple) else [value, value]
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
        raise DatasetError(f"training.dataset.image_size: expected a positive size n or "
                           f"[height, width], got {value!r}")
    return int(pair[0]), int(pair[1])


def _pixels(file: Path, size: tuple[int, int], grayscale: bool) -> np.ndarray:
    """One image decoded straight to `size` (height, width), values in [0, 1], C×H×W."""
    from PIL import Image

    height, width = size
    try:
        with _open_image(file) as image:
            image.draft("L" if grayscale else "RGB", (width, height))  # JPEG: decode smaller
            converted = image.convert("L" if grayscale else "RGB")
            if converted.size != (width, height):
                converted = converted.resize((width, height), Image.Resampling.BILINEAR,
                                             reducing_gap=2.0)
            pixels = np.asarray(converted, np.float32) / 255.0
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{file}: the image is too large to decode safely ({exc}); shrink "
                           "it before training") from exc
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{file}: cannot read the image ({exc})") from exc
    return pixels[None] if grayscale else pixels.transpose(2, 0, 1)


def _image_folder(spec: dict[str, Any], seed: int) -> ArrayDataset:
    folder = _path(spec, "a folder of class sub-folders", folder=True)
    grayscale = option(spec, "grayscale", False, bool)
    classes = _image_classes(folder)
    files = [(f, c) for c, (_, paths) in enumerate(classes.items()) for f in paths]
    height, width = _size(spec, files[0][0])
    # Decoded on use: in memory at once (streaming.materialize, within MAX_IMAGE_BYTES)
    # unless the run streams it batch by batch (engine/data/streaming.py).
    x = ImageRows([f for f, _ in files], (height, width), grayscale, _pixels)
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


def _image_folder_facts(spec: dict[str, Any]) -> DataFacts:
    """Classes are the sub-folders: counted, no image decoded."""
    folder = _path(spec, "a folder of class sub-folders", folder=True)
    return DataFacts("arrays", _image_folder_shapes(spec), len(_image_classes(folder)), (None,))


register(DatasetEntry(
    "image_folder", "A folder with one sub-folder of images per class (PNG, JPEG, BMP, ...), "
    "pixels in [0, 1].", "arrays", _image_folder, _image_folder_shapes,
    {"path": "the folder holding the class sub-folders",
     "image_size": "n or [height, width] to resize to (default: the first image's size, "
                   f"its longest side at most {MAX_SIDE})",
     "grayscale": "one channel instead of three (default false)"},
    facts=_image_folder_facts,
))
