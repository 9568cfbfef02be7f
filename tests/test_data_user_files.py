"""A person's own CSV, .npz and image folders: parsing, splits, and errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import DatasetError, input_shapes, load_dataset


def load(spec: dict, seed: int = 0):
    return load_dataset({"dataset": spec}, seed)


def both(spec: dict, seed: int = 0):
    """The loaded dataset, after checking the cheap shapes agree with it."""
    data = load(spec, seed)
    assert input_shapes({"dataset": spec}) == data.input_shapes()
    return data


# -- CSV --------------------------------------------------------------------------------


def write_csv(path: Path, rows: int = 40, delimiter: str = ",") -> Path:
    lines = [delimiter.join(["height", "weight", "species", "age"])]
    for i in range(rows):
        species = ("cat", "dog", "axolotl")[i % 3]
        lines.append(delimiter.join([str(10 + i), f"{0.5 * i:.2f}", species, str(i % 7)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_classification_with_a_string_target(tmp_path):
    path = write_csv(tmp_path / "pets.csv")
    data = both({"name": "csv", "path": str(path), "target": "species"})
    assert data.x.shape == (40, 3) and data.x.dtype == np.float32
    assert data.class_names == ["axolotl", "cat", "dog"] and data.num_classes == 3
    assert data.y[:3].tolist() == [1, 2, 0]
    assert data.info["features"] == ["height", "weight", "age"] and data.info["task"] == "classification"
    train = data.x[data.splits["train"]]
    assert np.allclose(train.mean(axis=0), 0, atol=1e-5) and np.allclose(train.std(axis=0), 1, atol=1e-4)


def test_csv_regression_semicolons_and_the_last_column_by_default(tmp_path):
    path = write_csv(tmp_path / "pets.csv", delimiter=";")
    path.write_text(path.read_text().replace("cat", "1").replace("dog", "2").replace("axolotl", "3"))
    data = both({"name": "csv", "path": str(path), "target": "weight"})
    assert data.info["task"] == "regression" and data.num_classes is None
    assert data.y.shape == (40, 1) and data.y.dtype == np.float32
    assert data.y[3, 0] == pytest.approx(1.5)
    by_default = both({"name": "csv", "path": str(path)})  # "age": 7 integers -> classes
    assert by_default.info["target"] == "age" and by_default.class_names == [str(i) for i in range(7)]
    forced = load({"name": "csv", "path": str(path), "task": "regression"})
    assert forced.y.dtype == np.float32


def test_csv_is_deterministic_under_the_seed(tmp_path):
    spec = {"name": "csv", "path": str(write_csv(tmp_path / "pets.csv")), "target": "species"}
    a, b, c = load(spec, 7), load(spec, 7), load(spec, 8)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.splits["train"], b.splits["train"])
    assert not np.array_equal(a.splits["train"], c.splits["train"])


def test_csv_errors_name_file_line_and_column(tmp_path):
    path = write_csv(tmp_path / "pets.csv")
    lines = path.read_text().splitlines()
    lines[5] = "15,2.5,cat,young"
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"pets.csv, line 6: column 'age' holds 'young', not a number"):
        load({"name": "csv", "path": str(path), "target": "species"})
    lines[5] = "15,,cat,4"
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"line 6: column 'weight' holds a missing value"):
        load({"name": "csv", "path": str(path), "target": "species"})
    lines[5] = "15,2.5,cat"
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"line 6: 3 fields, but the header names 4"):
        load({"name": "csv", "path": str(path), "target": "species"})
    with pytest.raises(DatasetError, match=r"pets.csv: no column 'colour' for the target \(columns: height"):
        input_shapes({"dataset": {"name": "csv", "path": str(path), "target": "colour"}})
    with pytest.raises(DatasetError, match=r"nowhere.csv: file not found"):
        load({"name": "csv", "path": str(tmp_path / "nowhere.csv")})
    with pytest.raises(DatasetError, match=r"training.dataset.path: the csv dataset needs"):
        load({"name": "csv"})
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetError, match=r"empty.csv: empty file"):
        load({"name": "csv", "path": str(tmp_path / "empty.csv")})
    with pytest.raises(DatasetError, match=r"line 2: target 'species' is 'cat', not a number"):
        load({"name": "csv", "path": str(write_csv(tmp_path / "ok.csv")), "target": "species",
              "task": "regression"})


# -- npz --------------------------------------------------------------------------------


def test_npz_classes_values_and_no_target(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3, 5)).astype(np.float64)
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=np.arange(50) % 4, class_names=np.array(["a", "b", "c", "d"]))
    data = both({"name": "npz", "path": str(path)})
    assert data.x.shape == (50, 3, 5) and data.x.dtype == np.float32
    assert data.num_classes == 4 and data.class_names == ["a", "b", "c", "d"]
    np.savez_compressed(path, x=rng.integers(0, 9, (30, 6)), y=rng.normal(size=30))
    values = both({"name": "npz", "path": str(path)})
    assert values.x.dtype == np.int64 and values.y.shape == (30, 1) and values.y.dtype == np.float32
    np.savez(path, x=x)
    assert both({"name": "npz", "path": str(path)}).y is None


def test_npz_errors(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, inputs=np.zeros((5, 2)))
    with pytest.raises(DatasetError, match=r"data.npz: no array named 'x' \(arrays: inputs\)"):
        load({"name": "npz", "path": str(path)})
    with pytest.raises(DatasetError, match=r"data.npz: no array named 'x'"):
        input_shapes({"dataset": {"name": "npz", "path": str(path)}})
    np.savez(path, x=np.zeros((5, 2)), y=np.zeros(4, int))
    with pytest.raises(DatasetError, match=r"'x' has 5 samples but 'y' has 4"):
        load({"name": "npz", "path": str(path)})
    np.savez(path, x=np.zeros((5, 2)), y=np.array([{}] * 5, dtype=object))
    with pytest.raises(DatasetError, match=r"data.npz: cannot read the .npz archive"):
        load({"name": "npz", "path": str(path)})
    (tmp_path / "not.npz").write_text("hello")
    with pytest.raises(DatasetError, match=r"not.npz: cannot read"):
        load({"name": "npz", "path": str(tmp_path / "not.npz")})


# -- image folder -----------------------------------------------------------------------


def image_folder(root: Path, per_class: int = 4) -> Path:
    for c, (name, colour) in enumerate((("circle", (255, 0, 0)), ("square", (0, 0, 255)))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (12, 10) if i == 0 else (6, 5)  # width x height; the first sets the size
            Image.new("RGB", size, colour).save(root / name / f"{i}.png")
        Image.new("L", (6, 5), 128 + c).save(root / name / "extra.jpg")
        (root / name / "notes.txt").write_text("ignored")
    return root


def test_image_folder_loads_and_resizes(tmp_path):
    root = image_folder(tmp_path / "shapes")
    data = both({"name": "image_folder", "path": str(root)})
    assert data.x.shape == (10, 3, 10, 12) and data.x.dtype == np.float32
    assert data.class_names == ["circle", "square"] and data.y.tolist() == [0] * 5 + [1] * 5
    assert data.x[0, 0].mean() == pytest.approx(1.0) and data.x[0, 2].max() == 0.0  # red, RGB order
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0
    gray = both({"name": "image_folder", "path": str(root), "image_size": 8, "grayscale": True})
    assert gray.x.shape == (10, 1, 8, 8)
    wide = both({"name": "image_folder", "path": str(root), "image_size": [4, 6]})
    assert wide.x.shape == (10, 3, 4, 6)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere: folder not found"):
        load({"name": "image_folder", "path": str(tmp_path / "nowhere")})
    flat = tmp_path / "flat"
    flat.mkdir()
    with pytest.raises(DatasetError, match=r"flat: no class sub-folders"):
        load({"name": "image_folder", "path": str(flat)})
    root = image_folder(tmp_path / "shapes")
    (root / "triangle").mkdir()
    with pytest.raises(DatasetError, match=r"triangle: empty class folder"):
        input_shapes({"dataset": {"name": "image_folder", "path": str(root)}})
    (root / "triangle" / "0.png").write_bytes(b"not really a png")
    with pytest.raises(DatasetError, match=r"0.png: cannot read the image"):
        load({"name": "image_folder", "path": str(root), "image_size": 4})
    with pytest.raises(DatasetError, match=r"training.dataset.image_size"):
        input_shapes({"dataset": {"name": "image_folder", "path": str(root), "image_size": [0, 2]}})


def test_csv_odd_files(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a,b,label\n" + "1,2,café\n".encode("latin-1") * 6)
    with pytest.raises(DatasetError, match=r"latin.csv: not UTF-8 text"):
        load({"name": "csv", "path": str(latin)})
    blank = write_csv(tmp_path / "blank.csv")
    blank.write_text(blank.read_text().replace("12,1.00,axolotl,2", "12,1.00,,2"))
    with pytest.raises(DatasetError, match=r"blank.csv, line 4: the target 'species' is empty"):
        load({"name": "csv", "path": str(blank), "target": "species"})


def test_shapes_follow_an_edited_file(tmp_path):
    path = write_csv(tmp_path / "pets.csv")
    spec = {"dataset": {"name": "csv", "path": str(path), "target": "species"}}
    assert input_shapes(spec) == {"x": (None, 3)}
    path.write_text("\n".join(line + ",1" if i else line + ",extra"
                              for i, line in enumerate(path.read_text().splitlines())))
    assert input_shapes(spec) == {"x": (None, 4)}


def test_npz_class_names_must_cover_the_labels(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((9, 2)), y=np.arange(9) % 3, class_names=np.array(["a", "b"]))
    with pytest.raises(DatasetError, match=r"'class_names' has 2 names but 'y' holds class ids up to 2"):
        load({"name": "npz", "path": str(path)})
