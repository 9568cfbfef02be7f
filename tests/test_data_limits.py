"""Own data within bounds: images decoded to a trainable size, files named in every error,
and the fast CSV reader agreeing with the row-by-row one it replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import DatasetError, csv_table, dataset_facts, input_shapes, load_dataset, user_files


def load(spec: dict, seed: int = 0):
    return load_dataset({"dataset": spec}, seed)


def folder_of(root: Path, size: tuple[int, int], per_class: int = 2) -> Path:
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", size, (40 * i, 0, 200)).save(root / name / f"{i}.png")
    return root


def test_large_images_load_at_a_bounded_size(tmp_path):
    root = folder_of(tmp_path / "photos", (1000, 600))  # width × height
    spec = {"name": "image_folder", "path": str(root)}
    data = load(spec)
    assert data.x.shape == (4, 3, 154, 256)  # longest side scaled to 256
    assert input_shapes({"dataset": spec}) == {"x": (None, 3, 154, 256)}
    assert dataset_facts({"dataset": spec}).num_classes == 2
    assert load({**spec, "image_size": [20, 30]}).x.shape == (4, 3, 20, 30)


def test_an_image_over_the_pixel_limit_is_named(tmp_path, monkeypatch):
    root = folder_of(tmp_path / "bombs", (30, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 900 pixels is past twice the limit
    with pytest.raises(DatasetError, match=r"0.png: the image is too large to decode safely"):
        load({"name": "image_folder", "path": str(root), "image_size": 8})
    with pytest.raises(DatasetError, match=r"0.png: the image is too large"):
        input_shapes({"dataset": {"name": "image_folder", "path": str(root)}})


def test_a_folder_too_large_for_memory_is_refused_with_the_numbers(tmp_path, monkeypatch):
    root = folder_of(tmp_path / "many", (8, 8))
    monkeypatch.setattr(user_files, "MAX_IMAGE_BYTES", 1000)
    with pytest.raises(DatasetError, match=r"many: 4 images of 3×8×8 need 0.0 GiB as float32 .*"
                                           r"set a smaller training.dataset.image_size"):
        load({"name": "image_folder", "path": str(root)})


def test_a_file_that_is_not_an_npz_says_so(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello, this is text")
    for call in (lambda s: load(s), lambda s: input_shapes({"dataset": s})):
        with pytest.raises(DatasetError, match=r"notes.npz: cannot read it: not an .npz file") as info:
            call({"name": "npz", "path": str(text)})
        assert "pickle" not in str(info.value)
    single = tmp_path / "single.npz"
    with open(single, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(DatasetError, match=r"single.npz: cannot read it as .npz: this is a single .npy"):
        load({"name": "npz", "path": str(single)})


def test_npz_facts_read_only_the_labels(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((12, 3), np.float32), y=np.arange(12) % 6)
    facts = dataset_facts({"dataset": {"name": "npz", "path": str(path)}})
    assert (facts.num_classes, facts.target, facts.inputs) == (6, (None,), {"x": (None, 3)})
    np.savez(path, x=np.zeros((12, 3), np.float32), y=np.zeros((12, 2), np.float32))
    facts = dataset_facts({"dataset": {"name": "npz", "path": str(path)}})
    assert (facts.num_classes, facts.target) == (None, (None, 2))


# -- the CSV reader ------------------------------------------------------------------------

TABLES = {
    "numbers": "a,b,y\n1,2.5,0\n3,-4e2,1\n5, 6 ,2\n7,8,1\n9,10,0\n",
    "names": "a;b;kind\n1;2;cat\n3;4; dog \n5;6;cat\n7;8;bird\n9;10;dog\n\n",
    "quoted": 'a,b,kind\n"1",2,"x, y"\n3,"4",z\n5,6,z\n7,8,"x, y"\n9,10,z\n',
    "tabs": "a\tb\tv\n1\t2\t0.5\n3\t4\t1.5\n5\t6\t2.5\n7\t8\t3.5\n9\t10\t4.5\n",
    "numeric_names": "a,y\n1,10\n2,2\n3,10\n4,2\n5,3\n",
    "blank_rows": "a,b,y\n1,2,0\n,,\n3,4,1\n5,6,0\n7,8,1\n9,10,0\n",
    "underscores": "a,b,y\n1_000,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,0\n",
}


def slow_table(path: Path) -> csv_table.Table:
    """What the row-by-row reader (the old code) makes of the file."""
    header, _, handle, _ = csv_table.open_csv(path)
    handle.close()
    column = csv_table.target_column(path, header, {})
    x, targets = csv_table.read_rows(path, header, column)
    values = [csv_table.number(t) for t, _ in targets]
    if all(v is not None for v in values):
        return csv_table.Table(header, column, x, np.array(values))
    texts = sorted({t for t, _ in targets})
    return csv_table.Table(header, column, x, None,
                           np.array([texts.index(t) for t, _ in targets]), texts)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_fast_reader_agrees_with_the_row_by_row_reader(tmp_path, name):
    path = tmp_path / f"{name}.csv"
    path.write_text(TABLES[name])
    fast, slow = csv_table.read_table(path, {}), slow_table(path)
    assert np.array_equal(fast.x, slow.x)
    assert csv_table.class_ids(fast)[1] == csv_table.class_ids(slow)[1]
    assert np.array_equal(csv_table.class_ids(fast)[0], csv_table.class_ids(slow)[0])


@pytest.mark.parametrize("name", ["numbers", "names", "quoted", "tabs"])
def test_plain_tables_never_need_the_slow_reader(tmp_path, monkeypatch, name):
    path = tmp_path / "t.csv"
    path.write_text(TABLES[name])

    def refuse(*args):
        raise AssertionError("the row-by-row reader was used")

    monkeypatch.setattr(csv_table, "read_rows", refuse)
    assert len(csv_table.read_table(path, {})) == 5
    assert csv_table.class_ids(csv_table.read_table(path, {}))[1] == \
        {"numbers": ["0", "1", "2"], "names": ["bird", "cat", "dog"], "quoted": ["x, y", "z"],
         "tabs": ["0.5", "1.5", "2.5", "3.5", "4.5"]}[name]
