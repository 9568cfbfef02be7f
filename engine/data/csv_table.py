"""Reading a person's CSV table: numpy's C parser first, the csv module to explain errors.

`numpy.loadtxt` parses numbers in C (about ten times faster than csv + float()
and with no Python object per cell), so a table of plain numbers loads in one
pass at the size of its array. Anything it refuses or treats differently (a
wrong field count, text in a feature column, an empty cell, NaN, an unusual
number format) is read again by the row-by-row reader, which either finds the
line to blame, with the message a person can act on, or reads the file as
it always did. Error messages therefore stay exactly those of the slow reader.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.row_file import RowFile
from engine.errors import DatasetError

BLOCK_BYTES = 1 << 22  # bytes of CSV text pyarrow parses at a time


@dataclass
class Table:
    """The features as float64 (S, F) and the target column, as numbers or as stripped text."""

    header: list[str]
    column: int  # index of the target in `header`
    x: np.ndarray
    values: np.ndarray | None  # (S,) float64 when every target is a number
    codes: np.ndarray | None = None  # else (S,) index into `texts` (the distinct targets)
    texts: list[str] | None = None
    blocks: int = 0  # pyarrow blocks the fast reader parsed (0: the row reader read it)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def features(self) -> list[str]:
        return [name for i, name in enumerate(self.header) if i != self.column]


def open_csv(path: Path) -> tuple[list[str], Any, Any, Any]:
    """(header, reader, handle, dialect) with the reader past the header line."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
        sample = handle.read(8192)
        handle.seek(0)
    except UnicodeDecodeError as exc:
        handle.close()
        raise not_utf8(path, exc) from exc
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
    return [h.strip() for h in header], reader, handle, dialect


def not_utf8(path: Path, exc: UnicodeDecodeError) -> DatasetError:
    return DatasetError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} cannot be "
                        "decoded); save it as \"CSV UTF-8\"")


def target_column(path: Path, header: list[str], spec: dict[str, Any]) -> int:
    target = spec.get("target", header[-1])
    if target not in header:
        raise DatasetError(f"{path}: no column '{target}' for the target "
                           f"(columns: {', '.join(header)})")
    if len(header) < 2:
        raise DatasetError(f"{path}: needs at least one feature column besides the target")
    return header.index(target)


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_table(path: Path, spec: dict[str, Any], stream: bool = False) -> Table:
    """The whole table; errors name the file, the line and the column.

    With `stream`, the features go block by block into a `RowFile` (float64 rows on
    disk, engine/data/row_file.py) instead of memory, so reading holds one block at a
    time: the streamed path. A table only the row reader can read stays in memory.
    """
    header, reader, handle, dialect = open_csv(path)
    with handle:
        column = target_column(path, header, spec)
    fast = _read_fast(path, header, column, dialect, stream)
    if fast is not None:
        return fast
    x, targets = read_rows(path, header, column)
    values = [number(t) for t, _ in targets]
    if all(v is not None for v in values):
        return Table(header, column, x, np.array(values, np.float64))
    texts = sorted({t for t, _ in targets})
    index = {t: i for i, t in enumerate(texts)}
    return Table(header, column, x, None, np.array([index[t] for t, _ in targets], np.int64), texts)


def _read_fast(path: Path, header: list[str], column: int, dialect: Any,
               stream: bool = False) -> Table | None:
    """pyarrow's parser, block by block into one array; None sends the file to the slow reader.

    Features are parsed as float64 straight into a preallocated array (sized by the line
    count), the target as trimmed text; so memory stays near the size of the result.
    With `stream` the blocks are appended to a new `RowFile` instead, and memory stays
    near one block (plus the targets).
    """
    import pyarrow as pa

    features = len(header) - 1
    lines = count_lines(path)
    sink = RowFile.create(features) if stream else None
    x = np.empty((lines, features), np.float64) if sink is None else sink
    try:
        parsed = _parse_blocks(path, header, column, dialect, x, lines)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        parsed = None  # a wrong field count, text in a feature, bad UTF-8: the slow reader says where
    table = None
    if parsed is not None and parsed[0]:
        filled, blocks, targets = parsed
        table = _with_target(header, column, x if sink is not None else x[:filled], targets)
    if table is None and sink is not None:
        sink.remove()  # the slow reader reads it into memory; the unfinished file goes now
    if table is not None:
        table.blocks = blocks
    return table


def _parse_blocks(path: Path, header: list[str], column: int, dialect: Any,
                  x: np.ndarray | RowFile, lines: int) -> tuple[int, int, Any] | None:
    """Each block's features into `x` (filled in place, or appended to); then the rows
    filled, the blocks parsed and the targets as text. None where the slow reader must decide.
    """
    import pyarrow as pa
    from pyarrow import compute

    features = [i for i in range(len(header)) if i != column]
    targets, filled, blocks = [], 0, 0
    for batch in _blocks(path, header, column, dialect):
        count = batch.num_rows
        if filled + count > lines or any(c.null_count for c in batch.columns):
            return None  # an empty cell, a blank row of commas
        in_place = isinstance(x, np.ndarray)
        rows = x[filled:filled + count] if in_place else np.empty((count, len(features)))
        if not _fill(rows, batch, features):
            return None  # NaN or infinity: the slow reader names the line
        if not in_place:
            x.append(rows)
        targets += compute.utf8_trim_whitespace(batch.column(column)).chunks
        filled, blocks = filled + count, blocks + 1
    return filled, blocks, pa.chunked_array(targets, pa.string())


def _blocks(path: Path, header: list[str], column: int, dialect: Any) -> Iterator[Any]:
    """The data lines parsed by pyarrow, about BLOCK_BYTES of text at a time, as tables.

    The file is cut at line ends here and each piece parsed on this thread:
    pyarrow's own streaming reader reads ahead on other threads, holding memory
    that grows with the file. Cutting at newlines is what pyarrow does too
    (`newlines_in_values` is off: a quoted line break is an error either way).
    """
    import pyarrow as pa
    from pyarrow import csv as arrow_csv  # on use: a large import

    names = [f"c{i}" for i in range(len(header))]  # the header is ours; names may repeat there
    types = {name: pa.float64() for name in names} | {names[column]: pa.string()}
    read = arrow_csv.ReadOptions(column_names=names, use_threads=False)
    parse = arrow_csv.ParseOptions(delimiter=dialect.delimiter)
    convert = arrow_csv.ConvertOptions(column_types=types)
    for piece in _pieces(path):
        yield arrow_csv.read_csv(pa.py_buffer(piece), read_options=read, parse_options=parse,
                                 convert_options=convert)


def _pieces(path: Path) -> Iterator[bytes]:
    """The bytes after the header line, in pieces of whole lines of about BLOCK_BYTES."""
    with open(path, "rb") as handle:
        handle.readline()
        rest = b""
        while block := handle.read(BLOCK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield block[:cut]
        if rest.strip():
            yield rest


def _fill(rows: np.ndarray, batch: Any, features: list[int]) -> bool:
    """The block's feature columns into `rows`; False when one holds a NaN or an infinity."""
    for j, i in enumerate(features):
        values = batch.column(i).to_numpy()
        if not np.isfinite(values).all():
            return False
        rows[:, j] = values
    return True


def _with_target(header: list[str], column: int, x: np.ndarray, target: Any) -> Table | None:
    """The table with its target as numbers when every one is a number, else as classes."""
    import pyarrow as pa
    from pyarrow import compute

    try:
        values = compute.cast(target, pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = None
    if values is not None:
        return Table(header, column, x, values) if np.isfinite(values).all() else None
    encoded = target.combine_chunks().dictionary_encode()
    texts = encoded.dictionary.to_pylist()
    if "" in texts:
        return None  # an empty target: the slow reader names its line
    return Table(header, column, x, None, encoded.indices.to_numpy().astype(np.int64), texts)


def count_lines(path: Path) -> int:
    """Newlines in the file plus one: at least the number of data rows."""
    count = 1
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


def read_rows(path: Path, header: list[str], column: int,
              ) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """The csv module row by row: slow, but it knows the line of every problem."""
    _, reader, handle, _ = open_csv(path)
    rows: list[list[float]] = []
    targets: list[tuple[str, int]] = []
    with handle:
        try:
            _rows(path, header, column, reader, rows, targets)
        except csv.Error as exc:
            raise DatasetError(f"{path}, line {reader.line_num + 1}: not valid CSV "
                               f"({exc})") from exc
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from exc
    return np.asarray(rows, np.float64).reshape(len(rows), len(header) - 1), targets


def _rows(path: Path, header: list[str], column: int, reader: Any,
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
            value = number(cell.strip())
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


def first_non_number(path: Path, header: list[str], column: int) -> DatasetError:
    """The regression error for a text target, with its line (read row by row: rare)."""
    _, targets = read_rows(path, header, column)
    text, line = next((t, n) for t, n in targets if number(t) is None)
    return DatasetError(f"{path}, line {line}: target '{header[column]}' is "
                        f"'{text}', not a number (regression needs numbers)")


def class_ids(table: Table) -> tuple[np.ndarray, list[str]]:
    """Class ids in a stable order: numerically for numbers (2 before 10), else alphabetically."""
    if table.values is not None:
        distinct, inverse = np.unique(table.values, return_inverse=True)  # sorted numerically
        names = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in distinct]
        return inverse.astype(np.int64), names
    texts = list(table.texts or [])
    if all(number(t) is not None for t in texts):
        order = sorted(range(len(texts)), key=lambda i: float(texts[i]))
    else:
        order = sorted(range(len(texts)), key=lambda i: texts[i])
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank[table.codes], [texts[i] for i in order]
