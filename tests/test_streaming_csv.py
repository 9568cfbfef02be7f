"""A streamed CSV: parsed block by block into a row file, same weights as in memory.

The row file is read with positioned reads, never memory-mapped: a file cut short
or replaced while a run reads it gives the old rows or a DatasetError, not SIGBUS.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, csv_table, load_dataset, row_file, splits, streaming
from engine.data.row_file import RowFile
from engine.data.streaming import LazyRows, StandardRows, column_stats
from tests.helpers import chain_document
from tests.test_streaming import MLP, _same_weights, _train

ROOT = Path(__file__).resolve().parent.parent


def _csv(tmp_path: Path, rows: int = 120, bad_line: int | None = None, seed: int = 5,
         name: str = "animals.csv") -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)) * [1, 10, 0.1, 3] + [0, 5, -2, 100]
    kinds = np.array(["cat", "dog", "owl"])[(x[:, 0] > 0).astype(int) + (x[:, 1] > 5)]
    lines = ["a,b,c,d,animal"] + [",".join(f"{v:.6f}" for v in row) + f",{k}"
                                  for row, k in zip(x, kinds, strict=True)]
    if bad_line is not None:
        lines[bad_line - 1] = "0.1,oops,0.3,0.4,cat"
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _setup(path: Path, **data) -> dict:
    return {"task": "classification", "dataset": {"name": "csv", "path": str(path)},
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "batch_size": 16,
            "seed": 3, "device": "cpu", "data": data}


@pytest.fixture
def small_blocks(monkeypatch, tmp_path):
    """Row files in a folder of this test's own; CSV blocks and statistics in small pieces."""
    monkeypatch.setattr(row_file, "folder", lambda: tmp_path / "rows")
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 512)  # a few dozen lines a block
    monkeypatch.setattr(streaming, "STATS_BYTES", 7 * 4 * 8)  # 7 rows


@pytest.mark.parametrize("workers", [0, 1])
def test_a_streamed_csv_trains_to_the_same_weights_as_in_memory(tmp_path, small_blocks, workers):
    path = _csv(tmp_path)
    memory, memory_curve, in_memory = _train(chain_document(MLP, _setup(path, streaming=False)))
    streamed, streamed_curve, trainer = _train(
        chain_document(MLP, _setup(path, streaming=True, workers=workers)))
    assert not in_memory.streamed and trainer.streamed
    assert isinstance(trainer.x, StandardRows)
    _same_weights(memory, streamed)
    assert [e["loss"] for e in memory_curve] == pytest.approx([e["loss"] for e in streamed_curve])


def test_a_streamed_csv_is_parsed_in_blocks_into_a_row_file(tmp_path, small_blocks):
    path = _csv(tmp_path)
    memory = load_dataset(_setup(path, streaming=False))
    data = load_dataset(_setup(path, streaming=True))
    rows = data.x
    assert isinstance(rows, StandardRows) and isinstance(rows.file, RowFile)
    assert rows.blocks > 3  # never the whole table in one piece
    assert rows.file.path.parent == tmp_path / "rows"
    assert rows.file.path.stat().st_size == 120 * 4 * 8 and rows.shape == (120, 4)
    np.testing.assert_array_equal(np.asarray(rows), memory.x)  # the same standardised values
    np.testing.assert_array_equal(data.y, memory.y)
    copy = pickle.loads(pickle.dumps(rows))  # as a spawned DataLoader worker receives it
    assert len(pickle.dumps(rows)) < 120 * 4 * 8  # the file's name, not its rows
    np.testing.assert_array_equal(copy.take(np.array([5, 0, 119, 5])), memory.x[[5, 0, 119, 5]])
    assert data.class_names == memory.class_names == ["cat", "dog", "owl"]
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(data.splits[part], memory.splits[part])


def test_each_load_owns_its_row_file_and_removes_it(tmp_path, small_blocks):
    path = _csv(tmp_path)
    first, second = (load_dataset(_setup(path, streaming=True)) for _ in range(2))
    assert first.x.file.path != second.x.file.path  # no name shared between loads or processes
    kept = second.x.file.path
    del first
    copy = pickle.loads(pickle.dumps(second.x))  # a worker's copy does not delete the file
    del copy
    assert [p.name for p in (tmp_path / "rows").iterdir()] == [kept.name]
    second.x.file.remove()
    assert not list((tmp_path / "rows").iterdir())
    with pytest.raises(DatasetError, match=rf"{kept}: .*was removed"):
        second.x.take(np.array([0]))  # not a read of whatever file reuses the descriptor


def test_row_files_of_a_process_that_died_are_removed(tmp_path, small_blocks):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "rows").mkdir()
    orphan = tmp_path / "rows" / f"{gone}-abc{row_file.SUFFIX}"
    orphan.write_bytes(b"\0" * 64)
    data = load_dataset(_setup(_csv(tmp_path), streaming=True))
    assert not orphan.exists() and data.x.file.path.exists()


def test_replacing_the_csv_and_the_row_file_keeps_the_rows_being_read(tmp_path, small_blocks):
    path = _csv(tmp_path)
    memory = load_dataset(_setup(path, streaming=False))
    data = load_dataset(_setup(path, streaming=True))
    rows = data.x.file.path
    _csv(tmp_path, rows=30, seed=9)  # the CSV rewritten in place, shorter
    other = tmp_path / "other.bin"
    other.write_bytes(np.arange(40.0).tobytes())
    os.replace(other, rows)  # the row file replaced under its name
    np.testing.assert_array_equal(data.x.take(np.array([119, 0, 64])), memory.x[[119, 0, 64]])
    with pytest.raises(DatasetError, match=rf"{rows}: .*replaced by another file"):
        pickle.loads(pickle.dumps(data.x))  # a worker would read the new file: refused
    rows.unlink()
    with pytest.raises(DatasetError, match=rf"{rows}: .*could not be opened again"):
        pickle.loads(pickle.dumps(data.x))
    np.testing.assert_array_equal(np.asarray(data.x), memory.x)  # still the old rows


TRUNCATE = """
import sys
from pathlib import Path
import numpy as np
from engine.data import DatasetError, load_dataset, row_file
row_file.folder = lambda: Path(sys.argv[2])
data = load_dataset({"task": "classification", "seed": 3,
                     "dataset": {"name": "csv", "path": sys.argv[1]}, "data": {"streaming": True}})
before = data.x.take(np.array([3, 1]))
with open(data.x.file.path, "r+b") as handle:
    handle.truncate(8 * 4 * 50)  # another process rewriting it in place: 50 rows left
print("kept", np.array_equal(data.x.take(np.array([3, 1])), before))
try:
    data.x.take(np.array([100, 3]))
except DatasetError as error:
    print("error", error)
"""


def test_a_row_file_cut_short_while_read_is_an_error_naming_it_not_a_crash(tmp_path):
    """In a child process: a memory-mapped file read past its new end kills it with SIGBUS."""
    result = subprocess.run([sys.executable, "-c", TRUNCATE, str(_csv(tmp_path)), str(tmp_path / "r")],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, (result.returncode, result.stderr)  # -7 would be SIGBUS
    lines = result.stdout.splitlines()
    assert lines[0] == "kept True"
    assert lines[1].startswith(f"error {tmp_path / 'r'}{os.sep}") and "cut short while in use" in lines[1]
    assert "row 100 of 120 is missing" in lines[1]


def test_a_large_csv_streams_by_size_unless_the_document_says(tmp_path, small_blocks, monkeypatch):
    path = _csv(tmp_path)
    assert isinstance(load_dataset(_setup(path)).x, np.ndarray)
    monkeypatch.setattr(streaming, "STREAM_ABOVE", 100)
    assert isinstance(load_dataset(_setup(path)).x, LazyRows)
    assert isinstance(load_dataset(_setup(path, streaming=False)).x, np.ndarray)


def test_a_bad_row_in_a_streamed_csv_names_its_line(tmp_path, small_blocks):
    path = _csv(tmp_path, bad_line=90)  # in a later block than the first
    for streamed in (False, True):
        with pytest.raises(DatasetError, match=r"line 90: column 'b' holds 'oops', not a number"):
            load_dataset(_setup(path, streaming=streamed))
    assert not list((tmp_path / "rows").iterdir())  # the unfinished row file was removed


def test_column_stats_in_pieces_match_standardize_in_one(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3)) * 1e3 + rng.normal(size=(1000, 3)) * 1e-6 + [1e6, 0, -5]
    train = np.sort(rng.choice(1000, 700, replace=False))
    whole = splits.standardize(x, train)
    monkeypatch.setattr(streaming, "STATS_BYTES", 13 * 3 * 8)
    mean, scale = column_stats(x, train)
    np.testing.assert_array_equal(((x - mean) / scale).astype(np.float32), whole)
    monkeypatch.setattr(row_file, "folder", lambda: tmp_path)
    file = RowFile.create(3)
    for start in range(0, 900, 128):  # appended in blocks, as the CSV reader does
        file.append(x[start:min(start + 128, 900)])
    part = train[train < 900]
    np.testing.assert_array_equal(column_stats(file, part)[0], x[part].mean(axis=0))
    np.testing.assert_array_equal(file.rows(np.array([899, 0, 7, 7, 8])), x[[899, 0, 7, 7, 8]])
    with pytest.raises(IndexError):
        file.rows(np.array([900]))


def test_a_full_disk_while_writing_the_row_file_is_said_and_the_file_removed(tmp_path, small_blocks,
                                                                               monkeypatch):
    path = _csv(tmp_path)
    real_write = os.write

    def full(fd: int, data) -> int:
        if fd in opened:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    real_create = RowFile.create.__func__
    opened: set[int] = set()

    def create(cls, columns: int) -> RowFile:
        made = real_create(cls, columns)
        opened.add(made.fd)
        return made

    monkeypatch.setattr(RowFile, "create", classmethod(create))
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(DatasetError, match=r"rows failed \(No space left on device\); free space in"):
        load_dataset(_setup(path, streaming=True))
    assert not list((tmp_path / "rows").iterdir())
