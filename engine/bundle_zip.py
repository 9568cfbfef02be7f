"""A bundle's zip, read without trusting it.

Before any member is unpacked the table of contents is checked: no two
members with one name, no name that points outside the archive, no
encryption, only the compression methods Python reads. A member is read only
up to a size limit checked on its declared size first, and a safetensors
member's header is checked (dtypes, shapes, offsets, total size) before its
data is read, so the caller can hold the tensors to what the graph needs.
Every failure is a DocumentError naming the bundle and the member.
"""

from __future__ import annotations

import json
import lzma
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from engine.errors import DocumentError
from engine.safeload import MiB, open_regular, size_text, too_large

READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 18: "IBM TERSE", 19: "IBM LZ77",
                93: "Zstandard", 95: "xz", 96: "JPEG", 97: "WavPack", 98: "PPMd",
                99: "AES encryption"}
MAX_HEADER_BYTES = 16 * MiB  # a safetensors header: ~100 bytes per tensor
MAX_MEMBERS = 1000  # a bundle has five; each entry costs zipfile ~0.5 kB of memory
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError, struct.error)


@dataclass(frozen=True)
class TensorTable:
    """What a safetensors header declares: each tensor's dtype and shape, and the data size."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    data_bytes: int

    def nbytes(self, key: str) -> int:
        return math.prod(self.shapes[key]) * DTYPE_BYTES[self.dtypes[key]]


class BundleArchive:
    """An open `.ncz` whose table of contents has been checked; use as a context manager."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.file = str(os.fspath(path))
        handle = open_regular(path)
        try:
            self._count_members(handle)
            self.zf = zipfile.ZipFile(handle)
        except DocumentError:
            handle.close()
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, *_READ_ERRORS) as exc:
            handle.close()
            reason = "it is not a zip file" if isinstance(exc, zipfile.BadZipFile) else exc
            raise DocumentError(self.file, "", f"not a NetCanvas bundle ({reason})") from None
        self._handle = handle
        try:
            self.members = self._check_contents()
        except DocumentError:
            self.close()
            raise

    def _count_members(self, handle: IO[bytes]) -> None:
        """Refuse millions of entries before zipfile builds an object for each.

        Reads the end-of-central-directory record with zipfile's own finder
        (it also follows zip64); a file without one fails right after, in ZipFile.
        """
        end = zipfile._EndRecData(handle)  # private, but the very code ZipFile runs next
        if end and end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS:
            raise DocumentError(self.file, "", f"not a NetCanvas bundle: "
                                f"{end[zipfile._ECD_ENTRIES_TOTAL]:,} members (a bundle has 5; "
                                f"at most {MAX_MEMBERS:,} are read)")

    def __enter__(self) -> BundleArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zf.close()
        self._handle.close()

    def fail(self, member: str, reason: str) -> DocumentError:
        return DocumentError(self.file, member, reason)

    def _check_contents(self) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            name = info.filename
            if name in members:
                raise self.fail(name, "two members have this name; a bundle holds each once")
            if _escapes(name):
                raise self.fail(_printable(name), "a member name that points outside the "
                                "bundle (absolute, or with '..'); refused")
            if info.flag_bits & 0x1:
                raise self.fail(name, "is encrypted; NetCanvas reads only unencrypted bundles")
            if info.compress_type not in READABLE_METHODS:
                method = METHOD_NAMES.get(info.compress_type, "unknown")
                raise self.fail(name, f"uses compression method {info.compress_type} ({method}), "
                                "which NetCanvas does not read (use deflate or none)")
            members[name] = info
        return members

    def size(self, member: str) -> int:
        return self._info(member).file_size

    def _info(self, member: str) -> zipfile.ZipInfo:
        if member not in self.members:
            raise self.fail(member, "missing from the bundle")
        return self.members[member]

    def read(self, member: str, limit: int) -> bytes:
        """The member's bytes, refused unread when its declared size is over `limit`."""
        info = self._info(member)
        if info.file_size > limit:
            raise self.fail(member, too_large(info.file_size, limit))
        with self._open(info) as stream:
            data = self._guarded(member, stream.read, limit + 1)
        if len(data) > limit:  # a lying header; zipfile checks the size and CRC at the end
            raise self.fail(member, too_large(len(data), limit))
        return data

    def _open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        return self._guarded(info.filename, self.zf.open, info)

    def _guarded(self, member: str, call, *args):
        try:
            return call(*args)
        except _READ_ERRORS as exc:
            raise self.fail(member, f"damaged ({exc})") from None

    def tensor_table(self, member: str) -> TensorTable:
        """The safetensors header of `member`, checked against the member's size."""
        info = self._info(member)
        with self._open(info) as stream:
            prefix = self._guarded(member, stream.read, 8)
            if len(prefix) < 8:
                raise self.fail(member, "not a valid safetensors file (shorter than its header)")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_HEADER_BYTES, info.file_size - 8):
                raise self.fail(member, f"not a valid safetensors file (a header of {length:,} "
                                f"bytes in a member of {info.file_size:,})")
            header = self._guarded(member, stream.read, length)
        table = _parse_header(header, lambda reason: self.fail(member, reason))
        if 8 + length + table.data_bytes != info.file_size:
            raise self.fail(member, f"not a valid safetensors file (its header declares "
                            f"{table.data_bytes:,} bytes of data; the member holds "
                            f"{info.file_size - 8 - length:,})")
        return table

    def tensors(self, member: str, table: TensorTable) -> dict[str, torch.Tensor]:
        """Read the tensors whose header `tensor_table` checked (and the caller accepted)."""
        data = self.read(member, self.size(member))
        try:
            return load_safetensors(data)
        except (SafetensorError, ValueError, TypeError, RuntimeError) as exc:
            raise self.fail(member, f"not a valid safetensors file ({exc})") from None


def _escapes(name: str) -> bool:
    """Absolute, drive-lettered, backslashed or `..` names: a zip-slip attempt."""
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts or "\\" in name or "\x00" in name
            or (len(name) > 1 and name[1] == ":"))


def _printable(name: str) -> str:
    return ascii(name)[1:-1][:120]


def _parse_header(header: bytes, fail) -> TensorTable:
    try:
        raw = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise fail("not a valid safetensors file (its header is not JSON)") from None
    if not isinstance(raw, dict):
        raise fail("not a valid safetensors file (its header is not a JSON object)")
    shapes, dtypes, spans = {}, {}, []
    for key, entry in raw.items():
        if key == "__metadata__":
            continue
        where = f"tensor '{_printable(key)}'"
        if not isinstance(entry, dict) or entry.get("dtype") not in DTYPE_BYTES:
            raise fail(f"not a valid safetensors file ({where} has no known dtype)")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not _ints(shape) or not _ints(offsets) or len(offsets) != 2:
            raise fail(f"not a valid safetensors file ({where} has a bad shape or offsets)")
        nbytes = math.prod(shape) * DTYPE_BYTES[entry["dtype"]]
        if offsets[1] - offsets[0] != nbytes:
            raise fail(f"not a valid safetensors file ({where}: its offsets span "
                       f"{offsets[1] - offsets[0]:,} bytes, its shape needs {nbytes:,})")
        shapes[key], dtypes[key] = tuple(shape), entry["dtype"]
        spans.append((offsets[0], offsets[1]))
    end = 0
    for begin, stop in sorted(spans):
        if begin != end:
            raise fail("not a valid safetensors file (tensors overlap or leave gaps)")
        end = stop
    return TensorTable(shapes, dtypes, end)


def _ints(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def describe_bytes(count: int) -> str:
    """`2.0 GiB (2,147,483,648 bytes)`: readable, and exact for whoever compares."""
    return size_text(count) if count < 1024 else f"{size_text(count)} ({count:,} bytes)"


__all__ = ["BundleArchive", "TensorTable", "describe_bytes"]
