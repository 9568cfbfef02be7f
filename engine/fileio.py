"""Atomic file writes: a crash or a full disk never leaves half a file behind.

The data goes to a temporary file beside the target (`.NAME.RANDOM.tmp`),
is fsynced and renamed over the target. Three details make it behave like a
plain write otherwise:

- the file keeps its mode; a new file gets the usual one (0666 less the
  umask, applied by the kernel when the temporary file is created);
- a symbolic link is written through: its target is replaced, the link stays;
- a save killed between creating and renaming its temporary file leaves it
  behind; the next save of the same file removes it. Each save holds an
  advisory lock on its own temporary file, so a save running at the same
  time in another process is never disturbed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from engine.errors import NetCanvasError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a stale file is one older than this
    fcntl = None  # type: ignore[assignment]
STALE_AFTER_S = 3600.0
GRACE_S = 2.0  # a file this young may be a save between its creation and its lock


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` (through a link), keeping its mode; all or nothing."""
    target = _resolve(Path(path))
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NetCanvasError(f"cannot write {target}: {exc.strerror or exc}") from exc
    remove_stale_temporaries(target)
    tmp = directory / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise NetCanvasError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            _keep_mode(handle.fileno(), target)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if fcntl is not None:
                os.replace(tmp, target)  # while locked: no other save takes it for stale
        if fcntl is None:
            os.replace(tmp, target)  # Windows renames only a closed file
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise NetCanvasError(
            f"cannot write {target}: {exc.strerror or exc}; the previous file is unchanged"
        ) from exc


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` (through a link) that replaces it if the block succeeds.

    For writers that need a file name rather than bytes (the ONNX and torch.export
    savers): the same naming, mode, link and stale-file rules as `atomic_write_bytes`.
    """
    target = _resolve(Path(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NetCanvasError(f"cannot write {target}: {exc.strerror or exc}") from exc
    remove_stale_temporaries(target)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask's mode
        yield tmp
        _keep_path_mode(tmp, target)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _keep_path_mode(tmp: Path, target: Path) -> None:
    """Give `tmp` the permission bits of `target` when it exists (a writer may recreate tmp)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:  # new: the writer may have recreated the file; apply the umask's mode
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _resolve(path: Path) -> Path:
    """The file a save must replace: the final target of a symbolic link, else `path`."""
    if not path.is_symlink():
        return path
    return Path(os.path.realpath(path))


def _keep_mode(fd: int, target: Path) -> None:
    """Give the new file the permission bits of the one it replaces."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:  # a new file: the mode os.open chose under the umask stays
        return
    with contextlib.suppress(OSError, AttributeError):  # no modes: FAT, some mounts, Windows
        os.fchmod(fd, mode)


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete temporary files that killed saves of `target` left; return what went."""
    removed = []
    for tmp in target.parent.glob(f".{_glob_escape(target.name)}.*.tmp"):
        if _abandoned(tmp):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _abandoned(tmp: Path) -> bool:
    """No live save holds the file's lock (or, without locks, it is an hour old)."""
    try:
        age = time.time() - tmp.lstat().st_mtime
    except OSError:
        return False
    if fcntl is None or age < GRACE_S:
        return age > STALE_AFTER_S
    try:
        fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # locked: a save in progress
        return False
    finally:
        os.close(fd)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
