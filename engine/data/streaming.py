"""Data larger than memory: samples read on demand, batch by batch, by DataLoader workers.

A streamed dataset's `x` is a `LazyRows` (decoded images, a memory-mapped npz
member) instead of an array; `y` (class ids, targets) stays in memory. The
trainer still draws its shuffled index batches from its own generator (the
in-memory path's `feeding.batches`), and a DataLoader only *reads* those
batches, in worker processes and into pinned memory on CUDA: so a streamed run
sees the same batches in the same order as an in-memory one and, on the CPU,
ends with the same weights.

`settle` decides per run: streaming when `training.data.streaming` is true, or
when it is unset and the decoded samples exceed `STREAM_ABOVE` bytes. A CSV
decides before its one parsing pass (`with_choice`): streamed, its features are
written block by block to a float64 row file (`row_file.RowFile`, read without a
memory map) and read back as `StandardRows`.
"""

from __future__ import annotations

import weakref
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.base import ArrayDataset
from engine.data.row_file import RowFile
from engine.errors import DatasetError

STREAM_ABOVE = 1 << 30  # decoded bytes above which a dataset streams unless told otherwise
STREAMED_TASKS = ("classification", "regression", "sequence", "autoencoder")


class LazyRows:
    """Samples along axis 0 read on demand; indexing reads just the rows asked for."""

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def take(self, indices: np.ndarray) -> np.ndarray:
        """The rows `indices`, in that order, as one array."""
        raise NotImplementedError

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, int | np.integer):
            return self.take(np.array([int(key)]))[0]
        if isinstance(key, tuple):  # x[i, c]: rows first, then the rest on the array read
            return self[key[0]][(slice(None), *key[1:])]
        return self.take(np.arange(len(self))[np.asarray(key) if not isinstance(key, slice) else key])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Everything, in memory: what the in-memory path (and numpy) sees."""
        whole = self.take(np.arange(len(self)))
        return whole if dtype is None else whole.astype(dtype)

    def min(self) -> Any:
        return np.asarray(self).min()

    def max(self) -> Any:
        return np.asarray(self).max()


class ImageRows(LazyRows):
    """An image folder's files, decoded (and resized to the Input's shape) only when read.

    `live` counts the decoded images held in arrays this object returned and
    `peak` its highest value, so a test can see memory stays bounded without timing.
    """

    def __init__(self, files: list[Path], size: tuple[int, int], grayscale: bool,
                 decode: Callable[[Path, tuple[int, int], bool], np.ndarray]) -> None:
        super().__init__((len(files), 1 if grayscale else 3, *size), np.float32)
        self.files, self.size, self.grayscale, self.decode = files, size, grayscale, decode
        self.live = self.peak = self.decoded = 0

    def take(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), *self.shape[1:]), np.float32)
        for j, i in enumerate(np.asarray(indices).reshape(-1)):
            out[j] = self.decode(self.files[int(i)], self.size, self.grayscale)
        self.decoded += len(out)
        self.live += len(out)
        self.peak = max(self.peak, self.live)
        weakref.finalize(out, self._released, len(out))
        return out

    def _released(self, count: int) -> None:
        self.live -= count

    def __getstate__(self) -> dict:  # DataLoader workers get a copy: no finalizers travel
        return {**self.__dict__, "live": 0, "peak": 0, "decoded": 0}


class MappedRows(LazyRows):
    """An array on disk (np.memmap), cast to the training dtype batch by batch."""

    def __init__(self, mapped: np.ndarray, dtype: Any) -> None:
        super().__init__(mapped.shape, dtype)
        self.mapped = mapped

    def take(self, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.mapped[np.asarray(indices)], dtype=self.dtype)


class ArrayRows(MappedRows):
    """An in-memory array read through the streaming path (training.data.streaming: true)."""


class StandardRows(LazyRows):
    """A CSV's features from their row file, standardised as each batch is read.

    The in-memory path computes `((x - mean) / scale).astype(float32)` on the whole
    table; doing the same arithmetic per row keeps every value identical.
    `blocks` is how many pieces the CSV was parsed in (none of them the whole table).
    The file is read, never memory-mapped (engine/data/row_file.py says why); a
    DataLoader worker gets its name and opens it again.
    """

    def __init__(self, file: RowFile, train: np.ndarray, blocks: int) -> None:
        super().__init__(file.shape, np.float32)
        self.file, self.blocks = file, blocks
        self.mean, self.scale = column_stats(file, train)

    def take(self, indices: np.ndarray) -> np.ndarray:
        rows = self.file.rows(np.asarray(indices))
        return ((rows - self.mean) / self.scale).astype(np.float32)


STATS_BYTES = 1 << 22  # bytes of training rows read at a time for the mean and deviation


def column_stats(x: np.ndarray | RowFile, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale (std, 1 where 0) of `x[train]` per column, reading STATS_BYTES at a time.

    As `splits.standardize` does, in two passes (mean, then mean squared deviation);
    numpy sums axis 0 row after row, so carrying the running sum across pieces
    gives the same float64 sums as one reduction over the whole split.
    """
    step = max(1, STATS_BYTES // (8 * max(1, x.shape[1])))
    pieces = [train[i:i + step] for i in range(0, len(train), step)]
    total = np.zeros(x.shape[1], np.float64)
    for piece in pieces:
        total = np.add.reduce(np.vstack([total[None], _rows(x, piece)]), axis=0)
    mean = total / len(train)
    squares = np.zeros(x.shape[1], np.float64)
    for piece in pieces:
        squares = np.add.reduce(np.vstack([squares[None], (_rows(x, piece) - mean) ** 2]), axis=0)
    std = np.sqrt(squares / len(train))
    return mean, np.where(std > 0, std, 1.0)


def _rows(x: np.ndarray | RowFile, indices: np.ndarray) -> np.ndarray:
    """x[indices] (sorted); from a row file by one read of the rows they span."""
    if not isinstance(x, RowFile) or not len(indices):
        return np.asarray(x[indices])
    first = int(indices[0])
    return x.span(first, int(indices[-1]) + 1 - first)[indices - first]


ASKED = "_streaming"  # key of the run's choice in a CSV spec (with_choice); not a document option


def choice(training: dict[str, Any]) -> bool | None:
    """Stream (True), hold in memory (False) or decide by size (None), for this run's task."""
    task = training.get("task", "classification")
    return wanted(training) if task in STREAMED_TASKS else False


def with_choice(spec: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    """The dataset spec, told the run's choice when its loader must know before reading.

    A CSV is parsed once: its features go to memory or to a cache file, and which
    must be known before that pass (the other loaders decide lazily, in `settle`).
    """
    return {**spec, ASKED: choice(training)} if spec.get("name") == "csv" else spec


def npz_member(path: Path, name: str) -> np.memmap | None:
    """Array `name` of an .npz memory-mapped in place, or None when it is compressed.

    `np.load(mmap_mode="r")` maps only .npy files, but `numpy.savez` stores its
    members uncompressed, so the member's bytes lie contiguously in the zip: the
    offset is the local header's end plus the .npy header. A member of
    `savez_compressed` is deflated and cannot be mapped; it is read into memory.
    """
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as handle:
            handle.seek(info.header_offset)
            local = handle.read(30)
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") \
                + int.from_bytes(local[28:30], "little")
            handle.seek(start)
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(handle)
            offset = handle.tell()
    if dtype.hasobject:  # the in-memory reader refuses it with the archive's own message
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


def wanted(training: dict[str, Any]) -> bool | None:
    """training.data.streaming: True, False, or None (decide by size)."""
    value = (training.get("data") or {}).get("streaming")
    return None if value is None else bool(value)


def settle(data: Any, training: dict[str, Any]) -> Any:
    """The dataset as this run reads it: lazy rows kept (streaming) or read into memory."""
    if not isinstance(data, ArrayDataset):
        return data
    x = data.x
    streams = choice(training)
    if streams is None:
        streams = isinstance(x, LazyRows) and x.nbytes > STREAM_ABOVE
    if streams and not isinstance(x, LazyRows):
        data.x = ArrayRows(x, x.dtype)
    elif not streams and isinstance(x, LazyRows):
        data.x = materialize(x, data)
    return data


def materialize(x: LazyRows, data: Any) -> np.ndarray:
    """All of `x` in memory, refusing a folder too large to decode at once."""
    from engine.data import user_files  # the limit is the image folder's, read at call time

    if isinstance(x, ImageRows) and x.nbytes > user_files.MAX_IMAGE_BYTES:
        channels, height, width = x.shape[1:]
        raise DatasetError(
            f"{data.info.get('path', data.name)}: {len(x)} images of {channels}×{height}×{width} "
            f"need {x.nbytes / 2**30:.1f} GiB as float32 (limit "
            f"{user_files.MAX_IMAGE_BYTES / 2**30:.0f} GiB); set a smaller "
            "training.dataset.image_size, or stream it (training.data.streaming: true)")
    return np.asarray(x)


# ---- reading batches with a DataLoader ----------------------------------------------------


class _BatchReads:
    """A map-style dataset whose items are whole batches: the key is the index batch."""

    def __init__(self, rows: LazyRows) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, request: tuple[int, Any]) -> tuple[int, Any, Any]:
        import torch

        count, indices = request
        return count, indices, torch.from_numpy(self.rows.take(np.asarray(indices)))


class _Requests:
    """Iterable anew each epoch: what the trainer's `requests()` yields, read lazily."""

    def __init__(self, make: Callable[[], Iterable[tuple[int, Any]]]) -> None:
        self.make = make

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return iter(self.make())


def batch_loader(rows: LazyRows, requests: Callable[[], Iterable[tuple[int, Any]]],
                 workers: int, pin: bool) -> Any:
    """A DataLoader reading the batches `requests()` names, in `workers` processes.

    Each request is (the global batch's size, the indices to read); the loader
    yields (size, indices, rows as a tensor). The sampler runs in this process,
    so the shuffling generator is the trainer's own, whatever the worker count.
    """
    from torch.utils.data import DataLoader

    return DataLoader(_BatchReads(rows), sampler=_Requests(requests), batch_size=None,
                      num_workers=workers, pin_memory=pin, persistent_workers=workers > 0)


def workers(training: dict[str, Any]) -> int:
    """training.data.workers: loader processes (0 reads in the training process)."""
    value = (training.get("data") or {}).get("workers", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DatasetError(f"training.data.workers: expected a whole number ≥ 0, got {value!r}")
    return value
