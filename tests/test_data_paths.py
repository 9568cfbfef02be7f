"""Relative data paths are taken from the document's folder: a document and its data move together."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import check, load_document, save_document
from engine.data import DatasetError, data_folder, input_shapes, load_dataset
from tests.test_task_check import chain


def project(root: Path) -> Path:
    """root/doc.json naming data/t.csv relatively, with 3 features and 2 classes."""
    (root / "data").mkdir(parents=True)
    rows = ["a,b,c,label"] + [f"{i},{i * 2},{i % 5},{'yes' if i % 2 else 'no'}" for i in range(30)]
    (root / "data" / "t.csv").write_text("\n".join(rows) + "\n")
    doc = chain([("Linear", {"out_features": 2})],
                {"dataset": {"name": "csv", "path": "data/t.csv"}, "task": "classification"})
    save_document(doc, root / "doc.json")
    return root / "doc.json"


def test_a_saved_document_reads_its_data_beside_it_from_any_working_directory(tmp_path, monkeypatch):
    path = project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)  # not the project folder
    doc = load_document(path)
    report = check(doc)
    assert report.ok, report.errors
    assert report.networks["main"].nodes["x"].outputs["out"] == (None, 3)
    data = load_dataset(doc.training, 0, data_folder(doc))
    assert data.x.shape == (30, 3) and data.num_classes == 2
    with pytest.raises(DatasetError, match=r"data/t.csv: file not found"):
        input_shapes(doc.training)  # without the document's folder: the working directory


def test_moving_the_folder_moves_the_data_with_it(tmp_path, monkeypatch):
    path = project(tmp_path / "first")
    moved = shutil.move(str(path.parent), str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    doc = load_document(Path(moved) / "doc.json")
    assert check(doc).ok, check(doc).errors
    assert data_folder(doc) == (tmp_path / "elsewhere").resolve()


def test_an_unsaved_document_uses_the_working_directory(tmp_path, monkeypatch):
    project(tmp_path / "p")
    doc = chain([("Linear", {"out_features": 2})],
                {"dataset": {"name": "csv", "path": "data/t.csv"}})
    assert data_folder(doc) is None
    monkeypatch.chdir(tmp_path / "p")
    assert check(doc).ok, check(doc).errors
    monkeypatch.chdir(tmp_path)
    assert not check(doc).ok


def test_absolute_paths_are_kept(tmp_path, monkeypatch):
    path = project(tmp_path / "p")
    doc = load_document(path)
    doc.set_training("dataset", {"name": "csv", "path": str(tmp_path / "p" / "data" / "t.csv")})
    doc.path = str(tmp_path / "somewhere" / "doc.json")
    assert check(doc).ok, check(doc).errors


def test_training_reads_the_data_beside_the_document_too(tmp_path, monkeypatch):
    """Check resolved from the document's folder while the trainers used the working directory."""
    from engine.training import Failed, Finished, make_trainer

    path = project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    doc = load_document(path)
    doc.training.update(epochs=1, device="cpu")
    events = list(make_trainer(doc).run())
    assert not isinstance(events[-1], Failed), events[-1].message
    assert isinstance(events[-1], Finished)
