"""A streamed CSV's features on disk: a float64 row file its reader owns, read without a map.

Why not a memory map: a mapped file that anything truncates or rewrites in place
(another run, another test, a full disk on tmpfs) kills the reading process with
SIGBUS, which no `try` can catch. So the rows are read with positioned reads
(`os.pread`) of a file descriptor this object holds: a file replaced or removed
by name leaves the descriptor on the old, whole data; one cut short in place
gives a short read, which is a `DatasetError` naming the file.

Nobody else writes the file: each load creates its own (`tempfile.mkstemp`,
exclusive, the pid and a random token in its name) under
`platformdirs.user_cache_dir("netcanvas")/streamed-rows` (on disk, unlike a
`$TMPDIR` that may be memory-backed), writes it with plain appends and never
rewrites it. It is removed when the owning `RowFile` is garbage-collected or the
process exits; files left by a process that died are removed by the next load.
A DataLoader worker started by spawn receives the name and opens it again.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DatasetError

SUFFIX = ".f64rows"
_SEEK = threading.Lock()  # where os.pread is missing (Windows): seek and read as one step


def folder() -> Path:
    """Where streamed row files live (per user, on disk)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("netcanvas")) / "streamed-rows"


class RowFile:
    """Rows of `columns` float64 values in a file: appended once, then read by index."""

    def __init__(self, path: Path, fd: int, columns: int, count: int, owner: bool) -> None:
        self.path, self.fd, self.columns, self.count = path, fd, columns, count
        self.shape = (count, columns)
        pid = os.getpid() if owner else None
        self._closer = weakref.finalize(self, _release, fd, path, pid)

    @classmethod
    def create(cls, columns: int) -> RowFile:
        """A new, empty file of this process's own, for `append`."""
        where = folder()
        where.mkdir(parents=True, exist_ok=True)
        remove_orphans(where)
        fd, name = tempfile.mkstemp(SUFFIX, f"{os.getpid()}-", where)
        return cls(Path(name), fd, columns, 0, owner=True)

    def append(self, rows: np.ndarray) -> None:
        """Rows written after the last ones (plain writes: the pages are the kernel's cache)."""
        data = memoryview(np.ascontiguousarray(rows, np.float64).reshape(-1)).cast("B")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError as error:  # a full disk: said, not sent to the in-memory reader
            self.remove()
            raise DatasetError(f"{self.path}: writing a streamed CSV's rows failed "
                               f"({error.strerror}); free space in {self.path.parent}") from error
        self.count += len(rows)
        self.shape = (self.count, self.columns)

    def __len__(self) -> int:
        return self.count

    def _open_fd(self) -> int:
        """The descriptor, refused once closed: its number may already name another file."""
        if not self._closer.alive:
            raise DatasetError(f"{self.path}: this streamed CSV's row file was removed; "
                               "load the dataset again")
        return self.fd

    def span(self, first: int, count: int) -> np.ndarray:
        """Rows first … first+count-1, read from the file."""
        size = count * self.columns * 8
        data = _read_at(self._open_fd(), size, first * self.columns * 8)
        if len(data) < size:
            raise DatasetError(
                f"{self.path}: this streamed CSV's row file was cut short while in use "
                f"(row {first + len(data) // (self.columns * 8)} of {self.count} is missing); "
                "something else wrote to it: load the dataset again")
        return np.frombuffer(data, np.float64).reshape(count, self.columns)

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """The rows `indices` (any order, repeats allowed), reading each run of neighbours once."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        if not len(indices):
            return np.empty((0, self.columns))
        if indices.min() < 0 or indices.max() >= self.count:
            raise IndexError(f"{self.path}: rows {indices.min()}…{indices.max()} of {self.count}")
        wanted = np.unique(indices)
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        starts = wanted[np.r_[0, breaks]].tolist()
        lengths = np.diff(np.r_[0, breaks, len(wanted)]).tolist()
        width, fd = self.columns * 8, self._open_fd()
        data = b"".join([_read_at(fd, n * width, s * width)
                         for s, n in zip(starts, lengths, strict=True)])
        if len(data) < len(wanted) * width:
            for first, count in zip(starts, lengths, strict=True):
                self.span(first, count)  # raises, naming the first row missing
        block = np.frombuffer(data, np.float64).reshape(len(wanted), self.columns)
        return block[np.searchsorted(wanted, indices)]

    def remove(self) -> None:
        """Close and delete the file now (also done when this object is collected)."""
        self._closer()

    def __getstate__(self) -> dict[str, Any]:
        """The file's name and identity, not its descriptor or rows: a spawned worker opens it again."""
        status = os.fstat(self._open_fd())
        return {"path": self.path, "columns": self.columns, "count": self.count,
                "identity": (status.st_dev, status.st_ino)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Open the same file again; one replaced under its name is refused, not read."""
        path = state["path"]
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError as error:
            raise DatasetError(f"{path}: a streamed CSV's row file could not be opened "
                               f"again ({error.strerror}); load the dataset again") from error
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) != state["identity"]:
            os.close(fd)
            raise DatasetError(f"{path}: a streamed CSV's row file was replaced by another "
                               "file while in use; load the dataset again")
        self.__init__(Path(path), fd, state["columns"], state["count"], owner=False)


def _seek_read(fd: int, size: int, offset: int) -> bytes:
    """os.pread where it is missing (Windows): a seek and a read that no other thread splits."""
    with _SEEK:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


_read_once = getattr(os, "pread", _seek_read)


def _read_at(fd: int, size: int, offset: int) -> bytes:
    """`size` bytes at `offset`, fewer only where the file ends."""
    data = _read_once(fd, size, offset)
    if len(data) == size or not data:
        return data
    parts = [data]
    while size > (done := sum(map(len, parts))):
        more = _read_once(fd, size - done, offset + done)
        if not more:
            break
        parts.append(more)
    return b"".join(parts)


def _release(fd: int, path: Path, owner: int | None) -> None:
    """Close the descriptor; the process that created the file also deletes it.

    A forked DataLoader worker holds a copy of the owner's object: it only closes.
    """
    os.close(fd)
    if owner == os.getpid():
        path.unlink(missing_ok=True)


def remove_orphans(where: Path) -> None:
    """Delete row files whose creating process is gone (it crashed before removing them)."""
    for path in where.glob(f"*{SUFFIX}"):
        pid = path.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                path.unlink()
            except OSError:  # removed by another load meanwhile, or (Windows) still open
                pass


def _alive(pid: int) -> bool:
    """Whether a process `pid` runs (on Windows assumed: a file in use cannot be deleted there)."""
    if os.name == "nt":
        return False  # unlink then fails on a file another process holds open, and is ignored
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
