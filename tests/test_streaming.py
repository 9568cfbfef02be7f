"""Streaming: the same batches and the same weights as in memory, and an image folder held a batch at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import load_dataset, streaming
from engine.data.streaming import ImageRows, LazyRows, MappedRows, npz_member
from engine.training import RunOptions, make_trainer
from tests.helpers import chain_document

MLP = [("Linear", {"out_features": 8}), ("ReLU", {}), ("Linear", {"out_features": 3})]


def _npz(tmp_path: Path, compressed: bool = False) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    path = tmp_path / "table.npz"
    (np.savez_compressed if compressed else np.savez)(path, x=x, y=y)
    return path


def _train(doc) -> tuple[dict[str, torch.Tensor], list, object]:
    trainer = make_trainer(doc, RunOptions())
    events = list(trainer.run())
    assert type(events[-1]).__name__ == "Finished", events[-1]
    history = doc.metrics["history"]["epoch_train"]
    return doc.weights["main"], history, trainer


def _setup(path: Path, task: str = "classification", **data) -> dict:
    return {"task": task, "dataset": {"name": "npz", "path": str(path)},
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "batch_size": 16,
            "seed": 3, "device": "cpu", "data": data}


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("workers", [0, 1])
def test_streamed_npz_trains_to_the_same_weights_as_in_memory(tmp_path, workers):
    path = _npz(tmp_path)
    memory, memory_curve, in_memory = _train(chain_document(MLP, _setup(path, streaming=False)))
    streamed, streamed_curve, trainer = _train(
        chain_document(MLP, _setup(path, streaming=True, workers=workers)))
    assert not in_memory.streamed and trainer.streamed
    assert isinstance(trainer.x, MappedRows)  # read from the mapped file batch by batch
    _same_weights(memory, streamed)
    assert [e["loss"] for e in memory_curve] == pytest.approx([e["loss"] for e in streamed_curve])


def test_streamed_autoencoder_reads_its_targets_with_its_inputs(tmp_path):
    path = _npz(tmp_path)
    blocks = [("Linear", {"out_features": 2}), ("Linear", {"out_features": 4})]
    memory, _, _ = _train(chain_document(blocks, _setup(path, "autoencoder", streaming=False)))
    streamed, _, trainer = _train(chain_document(blocks, _setup(path, "autoencoder", streaming=True)))
    assert trainer.y is None
    _same_weights(memory, streamed)


def test_npz_members_are_memory_mapped_unless_compressed(tmp_path):
    plain = _npz(tmp_path)
    mapped = npz_member(plain, "x")
    assert isinstance(mapped, np.memmap)
    with np.load(plain) as archive:
        np.testing.assert_array_equal(mapped, archive["x"])
    (tmp_path / "zipped").mkdir()
    packed = _npz(tmp_path / "zipped", compressed=True)
    assert npz_member(packed, "x") is None  # deflated bytes cannot be mapped


def test_streaming_is_chosen_by_size_unless_the_document_says(tmp_path, monkeypatch):
    path = _npz(tmp_path)
    training = _setup(path)
    assert isinstance(load_dataset(training).x, np.ndarray)
    monkeypatch.setattr(streaming, "STREAM_ABOVE", 100)  # 90×4 float32 is 1,440 bytes
    assert isinstance(load_dataset(training).x, LazyRows)
    assert isinstance(load_dataset({**training, "data": {"streaming": False}}).x, np.ndarray)
    gan = {**training, "task": "gan"}  # only supervised tasks stream
    assert isinstance(load_dataset(gan).x, np.ndarray)


def _image_folder(root: Path, per_class: int) -> Path:
    rng = np.random.default_rng(1)
    for c, name in enumerate(("dark", "light")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (10, 10, 3)) + 120 * c
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def test_an_image_folder_streams_a_batch_at_a_time_with_the_same_weights(tmp_path):
    root = _image_folder(tmp_path / "pics", per_class=30)
    setup = {"task": "classification", "dataset": {"name": "image_folder", "path": str(root),
                                                   "image_size": 6},
             "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 2, "batch_size": 4,
             "seed": 0, "device": "cpu"}
    blocks = [("Flatten", {}), ("Linear", {"out_features": 2})]
    memory, _, _ = _train(chain_document(blocks, {**setup, "data": {"streaming": False}}))
    streamed, _, trainer = _train(chain_document(blocks, {**setup, "data": {"streaming": True}}))
    _same_weights(memory, streamed)
    rows = trainer.x
    assert isinstance(rows, ImageRows) and rows.shape == (60, 3, 6, 6)
    train = len(trainer.splits["train"])
    assert rows.decoded >= 2 * train  # every epoch decoded its images again, lazily...
    assert rows.peak <= 2 * 4  # ...yet no more than two batches were ever held at once
