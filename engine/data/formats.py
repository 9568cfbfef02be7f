"""Readers for the file formats the downloadable datasets come in: IDX (MNIST) and LINQS Cora.

Plain gzip/tarfile and numpy, so the engine reads the files exactly as distributed
and the tests can write small files in the same formats.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np

from engine.errors import DatasetError

# IDX type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """The array in an IDX file, gzip'ed or not (the magic number says which)."""
    try:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read the IDX file ({exc})") from exc
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, where: str = "IDX data") -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DatasetError(f"{where}: not an IDX file (bad magic number {raw[:4].hex() or 'none'})")
    dtype = np.dtype(IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{where}: IDX header truncated")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(f"{where}: IDX dimensions {dims} need {expected} bytes of data, "
                           f"the file has {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(array: np.ndarray, path: Path) -> None:
    """The inverse of `read_idx` (gzip'ed when the name ends in .gz); tests build fixtures with it."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(IDX_TYPES[code]).tobytes()
    Path(path).write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)


# -- Cora (LINQS) ----------------------------------------------------------------------

CoraRecords = tuple[list[str], np.ndarray, list[str], list[tuple[str, str]]]  # ids, words, subjects, cites


def read_cora(source: Path) -> CoraRecords:
    """Paper ids, 0/1 word features, subject labels and citations from cora.tgz or its folder.

    `source` is the LINQS archive (cora/cora.content, cora/cora.cites inside) or a folder
    holding the two files, for a person who placed them by hand.
    """
    source = Path(source)
    if source.is_dir():
        content, cites = source / "cora.content", source / "cora.cites"
        for file in (content, cites):
            if not file.is_file():
                raise DatasetError(f"{file}: missing (Cora needs cora.content and cora.cites)")
        return _parse_cora(content.read_text("utf-8"), str(content),
                           cites.read_text("utf-8"), str(cites))
    try:
        with tarfile.open(source, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            texts = {}
            for name in ("cora.content", "cora.cites"):
                if name not in members:
                    raise DatasetError(f"{source}: the archive has no {name}")
                handle = tar.extractfile(members[name])
                texts[name] = io.TextIOWrapper(handle, "utf-8").read()  # type: ignore[arg-type]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{source}: cannot read the Cora archive ({exc})") from exc
    return _parse_cora(texts["cora.content"], f"{source}:cora.content",
                       texts["cora.cites"], f"{source}:cora.cites")


def _parse_cora(content: str, content_name: str, cites: str, cites_name: str) -> CoraRecords:
    ids: list[str] = []
    rows: list[list[float]] = []
    subjects: list[str] = []
    width = None
    for number, line in enumerate(content.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if width is None:
            width = len(fields)
        if len(fields) != width or width < 3:
            raise DatasetError(f"{content_name}, line {number}: expected {width} tab-separated "
                               f"fields (id, word flags, subject), got {len(fields)}")
        try:
            rows.append([float(v) for v in fields[1:-1]])
        except ValueError as exc:
            raise DatasetError(f"{content_name}, line {number}: word flags must be numbers "
                               f"({exc})") from exc
        ids.append(fields[0])
        subjects.append(fields[-1])
    if not ids:
        raise DatasetError(f"{content_name}: no papers in the file")
    edges = []
    for number, line in enumerate(cites.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DatasetError(f"{cites_name}, line {number}: expected 'cited<TAB>citing', "
                               f"got {len(fields)} fields")
        edges.append((fields[0], fields[1]))
    return ids, np.asarray(rows, np.float32), subjects, edges


def cora_graph(ids: list[str], features: np.ndarray, subjects: list[str],
               edges: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Symmetric 0/1 adjacency without self-loops, label ids, class names, edges dropped.

    Citations are treated as undirected (as in Kipf & Welling); a citation naming a paper
    that is not in cora.content is dropped and counted.
    """
    index = {paper: i for i, paper in enumerate(ids)}
    adjacency = np.zeros((len(ids), len(ids)), np.float32)
    dropped = 0
    for cited, citing in edges:
        a, b = index.get(cited), index.get(citing)
        if a is None or b is None:
            dropped += 1
            continue
        adjacency[a, b] = adjacency[b, a] = 1.0
    np.fill_diagonal(adjacency, 0.0)
    names = sorted(set(subjects))
    labels = np.array([names.index(s) for s in subjects], np.int64)
    return adjacency, labels, names, dropped
