"""Downloadable datasets without a network: parsers, cache, checksums and download errors.

A temporary folder plays the server (file:// URLs go through the same urllib code);
the files in it are small but in the real IDX and LINQS Cora formats.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from engine.data import DatasetError, input_shapes, load_dataset
from engine.data import downloads as dl
from engine.data.formats import parse_idx, read_cora, read_idx, write_idx


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(dl.CACHE_ENV, str(folder))
    return folder


def serve(monkeypatch, dataset: str, files: dict[str, bytes], server: Path,
          checksums: bool = True) -> None:
    """Put `files` on the fake server and point `dataset`'s sources at them."""
    server.mkdir(exist_ok=True)
    remotes = []
    for name, data in files.items():
        (server / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest() if checksums else None
        remotes.append(dl.RemoteFile(name, ((server / name).as_uri(),), digest))
    monkeypatch.setitem(dl.SOURCES, dataset, tuple(remotes))


def idx_bytes(array: np.ndarray, tmp_path: Path) -> bytes:
    path = tmp_path / "scratch.gz"
    write_idx(array, path)
    return path.read_bytes()


def mini_mnist(tmp_path: Path, train: int = 30, test: int = 10) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
              (np.arange(train) % 10).astype(np.uint8),
              rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
              (np.arange(test) % 10).astype(np.uint8)]
    return {name: idx_bytes(a, tmp_path) for name, a in zip(dl.IDX_FILES, arrays, strict=True)}


# -- IDX --------------------------------------------------------------------------------


def test_idx_magic_numbers_and_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = gzip.decompress(idx_bytes(images, tmp_path))
    assert int.from_bytes(raw[:4], "big") == 2051  # MNIST's image magic
    assert [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3)] == [2, 3, 4]
    assert np.array_equal(parse_idx(raw), images)
    labels = np.array([7, 2, 1], np.uint8)
    assert int.from_bytes(gzip.decompress(idx_bytes(labels, tmp_path))[:4], "big") == 2049
    plain = tmp_path / "floats-idx2"
    write_idx(np.eye(3, dtype=np.float32), plain)  # not gzip'ed
    assert np.array_equal(read_idx(plain), np.eye(3))


def test_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x99\x01\x00\x00\x00\x01x"))
    with pytest.raises(DatasetError, match="bad.gz: not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02abc")
    with pytest.raises(DatasetError, match=r"short: IDX dimensions \(2, 2\) need 4 bytes"):
        read_idx(short)


# -- MNIST through the cache ---------------------------------------------------------------


def test_mnist_downloads_checks_and_loads(tmp_path, monkeypatch, cache):
    serve(monkeypatch, "mnist", mini_mnist(tmp_path), tmp_path / "server")
    spec = {"name": "mnist", "val_size": 6}
    data = load_dataset({"dataset": spec}, 0)
    assert data.x.shape == (40, 1, 28, 28) and data.x.dtype == np.float32
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0 and data.x.max() > 0.99
    assert data.y.dtype == np.int64 and data.num_classes == 10
    assert data.splits["test"].tolist() == list(range(30, 40))
    assert len(data.splits["val"]) == 6 and len(data.splits["train"]) == 24
    assert set(data.splits["val"]).isdisjoint(data.splits["train"])
    assert input_shapes({"dataset": spec}) == data.input_shapes() == {"x": (None, 1, 28, 28)}
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(dl.IDX_FILES)
    # Cached now: the server may vanish, and the seed alone fixes the split.
    for name in dl.IDX_FILES:
        (tmp_path / "server" / name).unlink()
    again = load_dataset({"dataset": spec}, 0)
    other = load_dataset({"dataset": spec}, 1)
    assert np.array_equal(again.x, data.x) and np.array_equal(again.splits["val"], data.splits["val"])
    assert not np.array_equal(other.splits["val"], data.splits["val"])
    assert len(load_dataset({"dataset": {"name": "mnist", "val_size": 6, "train_size": 5}},
                            0).splits["train"]) == 5


def test_fashion_mnist_names_its_classes(tmp_path, monkeypatch):
    serve(monkeypatch, "fashion_mnist", mini_mnist(tmp_path), tmp_path / "server")
    data = load_dataset({"dataset": {"name": "fashion_mnist", "val_size": 3}}, 0)
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"


def test_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch, cache):
    serve(monkeypatch, "mnist", mini_mnist(tmp_path), tmp_path / "server")
    first = dl.SOURCES["mnist"][0]
    wrong = dl.RemoteFile(first.name, first.urls, "0" * 64)
    monkeypatch.setitem(dl.SOURCES, "mnist", (wrong, *dl.SOURCES["mnist"][1:]))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_dataset({"dataset": "mnist"}, 0)
    assert list((cache / "mnist").iterdir()) == []  # no partial file, no .part left over


def test_a_damaged_cached_file_is_caught(tmp_path, monkeypatch, cache):
    serve(monkeypatch, "mnist", mini_mnist(tmp_path), tmp_path / "server")
    load_dataset({"dataset": {"name": "mnist", "val_size": 3}}, 0)
    (cache / "mnist" / dl.IDX_FILES[1]).write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="does not match its checksum.*delete it"):
        load_dataset({"dataset": "mnist"}, 0)


def test_no_network_gives_one_clear_message(monkeypatch, cache):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as caught:
        load_dataset({"dataset": "mnist"}, 0)
    message = str(caught.value)
    assert message.startswith("cannot download mnist (train-images-idx3-ubyte.gz)")
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in message
    assert "name resolution" in message and str(cache / "mnist") in message
    assert "place them in" in message


def test_download_off_says_where_to_put_the_files(cache):
    with pytest.raises(DatasetError, match=r"downloading is off.*place them in .*cora"):
        load_dataset({"dataset": {"name": "cora", "download": False}}, 0)


def test_default_cache_is_the_platform_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv(dl.CACHE_ENV)
    assert dl.cache_dir("mnist") == Path(platformdirs.user_cache_dir("netcanvas")) / "datasets" / "mnist"


# -- Cora ------------------------------------------------------------------------------

SUBJECTS = ["Theory", "Neural_Networks", "Case_Based"]


def mini_cora(papers: int = 30, words: int = 6) -> tuple[str, str]:
    rng = np.random.default_rng(1)
    ids = [str(1000 + 7 * i) for i in range(papers)]
    content = "".join(
        "\t".join([paper, *map(str, rng.integers(0, 2, words)), SUBJECTS[i % 3]]) + "\n"
        for i, paper in enumerate(ids))
    edges = [(ids[i], ids[(i + 1) % papers]) for i in range(papers)]
    edges += [(ids[0], ids[5]), (ids[5], ids[0]), (ids[3], ids[3]), ("999999", ids[2])]
    cites = "".join(f"{a}\t{b}\n" for a, b in edges)
    return content, cites


def cora_tgz(content: str, cites: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("cora/README", "Cora"), ("cora/cora.content", content),
                           ("cora/cora.cites", cites)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_cora_from_the_linqs_archive(tmp_path, monkeypatch, cache):
    serve(monkeypatch, "cora", {"cora.tgz": cora_tgz(*mini_cora())}, tmp_path / "server",
          checksums=False)
    spec = {"name": "cora", "labels_per_class": 2, "val_size": 6, "test_size": 10}
    data = load_dataset({"dataset": spec}, 0)
    assert data.class_names == sorted(SUBJECTS) and data.num_classes == 3
    assert data.labels[:3].tolist() == [2, 1, 0]  # Theory, Neural_Networks, Case_Based
    adj = data.adjacency
    assert adj.shape == (30, 30) and np.array_equal(adj, adj.T) and np.trace(adj) == 0
    assert adj[0, 5] == 1 and adj.sum() == 2 * 31  # a ring of 30 plus one chord
    assert data.info["dropped_citations"] == 1
    assert data.features.shape == (30, 6) and data.features.dtype == np.float32
    rows = data.features.sum(axis=1)
    assert np.allclose(rows[rows > 0], 1.0)  # row-normalised
    train, val, test = (data.masks[k] for k in ("train", "val", "test"))
    assert train.sum() == 6 and val.sum() == 6 and test.sum() == 10
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert np.bincount(data.labels[train]).tolist() == [2, 2, 2]
    # No published checksum: the first download's digest is recorded, then enforced.
    record = cache / "cora" / "cora.tgz.sha256"
    assert record.read_text().split()[0] == dl.sha256_of(cache / "cora" / "cora.tgz")
    again = load_dataset({"dataset": spec}, 0)
    assert all(np.array_equal(again.masks[k], data.masks[k]) for k in data.masks)
    other = load_dataset({"dataset": spec}, 1)
    assert not np.array_equal(other.masks["train"], data.masks["train"])
    (cache / "cora" / "cora.tgz").write_bytes(cora_tgz(*mini_cora(papers=12)))
    with pytest.raises(DatasetError, match="does not match its checksum"):
        load_dataset({"dataset": spec}, 0)


def test_cora_placed_by_hand_as_two_files(cache):
    folder = cache / "cora"
    folder.mkdir(parents=True)
    content, cites = mini_cora()
    (folder / "cora.content").write_text(content)
    (folder / "cora.cites").write_text(cites)
    data = load_dataset({"dataset": {"name": "cora", "download": False, "val_size": 4,
                                     "test_size": 8, "normalize_features": False}}, 0)
    assert data.features.shape == (30, 6) and set(np.unique(data.features)) <= {0.0, 1.0}


def test_cora_shapes_are_static():
    assert input_shapes({"dataset": "cora"}) == {"adjacency": (2708, 2708), "features": (2708, 1433)}


def test_cora_parse_errors_name_file_and_line(tmp_path):
    folder = tmp_path / "hand"
    folder.mkdir()
    (folder / "cora.content").write_text("1\t0\t1\tTheory\n2\t1\tTheory\n")
    (folder / "cora.cites").write_text("1\t2\n")
    with pytest.raises(DatasetError, match=r"cora.content, line 2: expected 4"):
        read_cora(folder)
    (folder / "cora.content").write_text("1\t0\t1\tTheory\n")
    (folder / "cora.cites").write_text("1\t2\t3\n")
    with pytest.raises(DatasetError, match=r"cora.cites, line 1: expected 'cited<TAB>citing'"):
        read_cora(folder)
    (folder / "cora.cites").unlink()
    with pytest.raises(DatasetError, match=r"cora.cites: missing"):
        read_cora(folder)
    broken = tmp_path / "cora.tgz"
    broken.write_bytes(b"not a tar")
    with pytest.raises(DatasetError, match="cannot read the Cora archive"):
        read_cora(broken)


@pytest.mark.parametrize("record_text", ["", "not-a-digest  cora.tgz\n"])
def test_a_damaged_checksum_record_is_named(tmp_path, monkeypatch, cache, record_text):
    """An empty record (a crash while it was written, before the write was atomic) gave
    an IndexError at every later load; now it is a DatasetError naming the record."""
    serve(monkeypatch, "cora", {"cora.tgz": cora_tgz(*mini_cora())}, tmp_path / "server",
          checksums=False)
    spec = {"name": "cora", "labels_per_class": 2, "val_size": 6, "test_size": 10}
    load_dataset({"dataset": spec}, 0)
    record = cache / "cora" / "cora.tgz.sha256"
    record.write_text(record_text)
    with pytest.raises(DatasetError, match=r"checksum record .*cora\.tgz\.sha256 is damaged"):
        load_dataset({"dataset": spec}, 0)

