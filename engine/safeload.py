"""Reading what someone sent: only regular files, only so many bytes, only plain JSON.

A document path may name a FIFO (reading it waits forever), a device such as
`/dev/zero` (reading it never ends) or a link to one; a JSON text may nest
thousands deep or carry a lone surrogate (`"\\udcff"`) that no file can hold
again. Everything here refuses those with a `DocumentError` that names the
file and the JSON path, before anything else sees the data.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any, BinaryIO

from engine.errors import DocumentError

MiB = 1 << 20
MAX_DOCUMENT_BYTES = 16 * MiB  # the largest preset is ~20 kB; a 5,000-node import is ~2 MB
MAX_DEPTH = 64  # presets nest 7 deep, a bundle's training state 9


def size_text(count: int) -> str:
    """Bytes as people read them: `2.0 GiB`, `512 kB`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("kB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a regular file (after following links) for reading, or refuse it.

    The file is opened non-blocking and checked on the open descriptor, so a
    FIFO is refused at once instead of waiting for a writer, and a file
    swapped for a device between a check and the open is still caught.
    """
    file = os.fspath(path)
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DocumentError(str(file), "", "cannot read the file: no such file") from None
    except OSError as exc:
        raise DocumentError(str(file), "", f"cannot read the file: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise DocumentError(str(file), "", f"cannot open {_kind(mode)}: only regular files are read")
    if hasattr(os, "O_NONBLOCK"):  # reads of a regular file block as usual again
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_regular(path: str | os.PathLike, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a regular file no larger than `limit`; refused with the numbers otherwise."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise DocumentError(str(os.fspath(path)), "", too_large(size, limit))
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise DocumentError(str(os.fspath(path)), "",
                                f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > limit:  # grew while we read it
        raise DocumentError(str(os.fspath(path)), "", too_large(len(data), limit))
    return data


def too_large(size: int, limit: int) -> str:
    return (f"too large: {size_text(size)} ({size:,} bytes), more than the "
            f"{size_text(limit)} ({limit:,} bytes) a file in this role may hold")


def parse_json(data: str | bytes, file: str, at: str = "") -> Any:
    """Standard JSON no deeper than MAX_DEPTH, every string valid Unicode.

    `at` prefixes every path in a message (a bundle member: `metrics.json:`).
    """
    try:
        raw = json.loads(data)
    except UnicodeDecodeError:
        raise DocumentError(file, at, "not a text file (it is not valid UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(
            file, at, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise DocumentError(file, at, f"JSON nested too deeply (more than {MAX_DEPTH} levels)"
                            ) from None
    except ValueError:  # an integer longer than Python agrees to convert
        raise DocumentError(file, at, "not valid JSON: a number has too many digits") from None
    check_tree(raw, file, at)
    return raw


def check_tree(raw: Any, file: str, at: str = "") -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings with lone surrogates.

    Iterative, so the check itself cannot overflow the stack.
    """
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, file, at, path)
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise DocumentError(file, join_path(at, path),
                                    f"nested too deeply (more than {MAX_DEPTH} levels)")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(key, str):
                    _check_text(key, file, at, path, key=True)
                child_path = f"{path}[{key}]" if isinstance(key, int) else \
                    f"{path}.{key}" if path else key
                stack.append((child, child_path, depth + 1))


def _check_text(text: str, file: str, at: str, path: str, key: bool = False) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        what = "a key" if key else "the text"
        raise DocumentError(
            file, join_path(at, path),
            f"{what} holds a lone surrogate ({text[exc.start]!a}, position {exc.start}), "
            "which is not a character: fix the file's escapes") from None


def join_path(at: str, path: str) -> str:
    """`metrics.json` + `history.x` -> `metrics.json:history.x` (either may be empty)."""
    if at and path:
        return f"{at}:{path}"
    return at or path
