"""A streamed CSV: parsed block by block into a cache file, same weights as in memory."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, csv_table, load_dataset, splits, streaming
from engine.data.streaming import LazyRows, StandardRows, column_stats
from tests.helpers import chain_document
from tests.test_streaming import MLP, _same_weights, _train


def _csv(tmp_path: Path, rows: int = 120, bad_line: int | None = None) -> Path:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(rows, 4)) * [1, 10, 0.1, 3] + [0, 5, -2, 100]
    kinds = np.array(["cat", "dog", "owl"])[(x[:, 0] > 0).astype(int) + (x[:, 1] > 5)]
    lines = ["a,b,c,d,animal"] + [",".join(f"{v:.6f}" for v in row) + f",{k}"
                                  for row, k in zip(x, kinds, strict=True)]
    if bad_line is not None:
        lines[bad_line - 1] = "0.1,oops,0.3,0.4,cat"
    path = tmp_path / "animals.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _setup(path: Path, **data) -> dict:
    return {"task": "classification", "dataset": {"name": "csv", "path": str(path)},
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "batch_size": 16,
            "seed": 3, "device": "cpu", "data": data}


@pytest.fixture
def small_blocks(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))  # the cache files go here
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 512)  # a few dozen lines a block
    monkeypatch.setattr(streaming, "STATS_BYTES", 7 * 4 * 8)  # 7 rows  # and the statistics in pieces too


def test_a_streamed_csv_trains_to_the_same_weights_as_in_memory(tmp_path, small_blocks):
    path = _csv(tmp_path)
    memory, memory_curve, in_memory = _train(chain_document(MLP, _setup(path, streaming=False)))
    streamed, streamed_curve, trainer = _train(chain_document(MLP, _setup(path, streaming=True)))
    assert not in_memory.streamed and trainer.streamed
    assert isinstance(trainer.x, StandardRows)
    _same_weights(memory, streamed)
    assert [e["loss"] for e in memory_curve] == pytest.approx([e["loss"] for e in streamed_curve])


def test_a_streamed_csv_is_parsed_in_blocks_into_a_mapped_file(tmp_path, small_blocks):
    path = _csv(tmp_path)
    memory = load_dataset(_setup(path, streaming=False))
    data = load_dataset(_setup(path, streaming=True))
    rows = data.x
    assert isinstance(rows, StandardRows) and isinstance(rows.mapped, np.memmap)
    assert rows.blocks > 3  # never the whole table in one piece
    assert Path(rows.mapped.filename).parent == tmp_path / "temp" / "netcanvas-csv"
    assert rows.mapped.dtype == np.float64 and rows.shape == (120, 4)
    np.testing.assert_array_equal(np.asarray(rows), memory.x)  # the same standardised values
    np.testing.assert_array_equal(data.y, memory.y)
    copy = pickle.loads(pickle.dumps(rows))  # as a spawned DataLoader worker receives it
    assert len(pickle.dumps(rows)) < rows.mapped.nbytes  # the file's name, not its rows
    np.testing.assert_array_equal(copy.take(np.array([5, 0, 119])), memory.x[[5, 0, 119]])
    assert data.class_names == memory.class_names == ["cat", "dog", "owl"]
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(data.splits[part], memory.splits[part])


def test_a_large_csv_streams_by_size_unless_the_document_says(tmp_path, monkeypatch):
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
    assert not list((tmp_path / "temp").rglob("*.part"))  # the unfinished cache was removed


def test_column_stats_in_pieces_match_standardize_in_one(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3)) * 1e3 + rng.normal(size=(1000, 3)) * 1e-6 + [1e6, 0, -5]
    train = np.sort(rng.choice(1000, 700, replace=False))
    whole = splits.standardize(x, train)
    monkeypatch.setattr(streaming, "STATS_BYTES", 13 * 3 * 8)
    mean, scale = column_stats(x, train)
    np.testing.assert_array_equal(((x - mean) / scale).astype(np.float32), whole)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")[:900]  # read from the file, not the map
    np.testing.assert_array_equal(column_stats(mapped, train[train < 900])[0],
                                  x[train[train < 900]].mean(axis=0))
