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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DatasetError


@dataclass
class Table:
    """The features as float64 (S, F) and the target column, as numbers or as stripped text."""

    header: list[str]
    column: int  # index of the target in `header`
    x: np.ndarray
    values: np.ndarray | None  # (S,) float64 when every target is a number
    codes: np.ndarray | None = None  # else (S,) index into `texts` (the distinct targets)
    texts: list[str] | None = None

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


def read_table(path: Path, spec: dict[str, Any]) -> Table:
    """The whole table; errors name the file, the line and the column."""
    header, reader, handle, dialect = open_csv(path)
    with handle:
        column = target_column(path, header, spec)
    fast = _read_fast(path, header, column, dialect)
    if fast is not None:
        return fast
    x, targets = read_rows(path, header, column)
    values = [number(t) for t, _ in targets]
    if all(v is not None for v in values):
        return Table(header, column, x, np.array(values, np.float64))
    texts = sorted({t for t, _ in targets})
    index = {t: i for i, t in enumerate(texts)}
    return Table(header, column, x, None, np.array([index[t] for t, _ in targets], np.int64), texts)


def _read_fast(path: Path, header: list[str], column: int, dialect: Any) -> Table | None:
    """pyarrow's parser, block by block into one array; None sends the file to the slow reader.

    Features are parsed as float64 straight into a preallocated array (sized by the line
    count), the target as trimmed text; so memory stays near the size of the result.
    """
    import pyarrow as pa
    from pyarrow import compute
    from pyarrow import csv as arrow_csv  # on use: a large import

    names = [f"c{i}" for i in range(len(header))]  # the header is ours; names may repeat there
    features = [i for i in range(len(header)) if i != column]
    types = {names[i]: pa.float64() for i in features} | {names[column]: pa.string()}
    x = np.empty((_count_lines(path), len(features)), np.float64)
    targets, filled = [], 0
    try:
        reader = arrow_csv.open_csv(
            path, read_options=arrow_csv.ReadOptions(skip_rows=1, column_names=names, use_threads=False,
                                                     block_size=1 << 22),
            parse_options=arrow_csv.ParseOptions(delimiter=dialect.delimiter),
            convert_options=arrow_csv.ConvertOptions(column_types=types))
        for batch in reader:
            count = batch.num_rows
            if filled + count > len(x) or any(c.null_count for c in batch.columns):
                return None  # an empty cell, a blank row of commas: the slow reader decides
            for j, i in enumerate(features):
                x[filled:filled + count, j] = batch.column(i).to_numpy()
            targets.append(compute.utf8_trim_whitespace(batch.column(column)))
            filled += count
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None  # a wrong field count, text in a feature, bad UTF-8: the slow reader says where
    x = x[:filled]
    if not filled or not np.isfinite(x).all():
        return None
    return _with_target(header, column, x, pa.chunked_array(targets, pa.string()))


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


def _count_lines(path: Path) -> int:
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
