"""MNIST, Fashion-MNIST and Cora: fetched once into a cache folder, checked, then read locally.

The cache is `platformdirs.user_cache_dir("netcanvas")/datasets/<dataset>`, or
`$NETCANVAS_DATA/<dataset>` when that variable is set (tests, shared machines, a
person who keeps data elsewhere). A file is downloaded to a temporary name and
renamed only once its SHA-256 matches, so an interrupted download never looks like
data. Where no checksum is published (Cora), the digest of the first download is
recorded next to the file and later copies must match it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.base import (
    ArrayDataset,
    DataFacts,
    DatasetEntry,
    GraphDataset,
    class_facts,
    option,
    register,
)
from engine.data.formats import cora_graph, read_cora, read_idx
from engine.errors import DatasetError
from engine.fileio import atomic_write_bytes

CACHE_ENV = "NETCANVAS_DATA"
TIMEOUT_S = 30


@dataclass(frozen=True)
class RemoteFile:
    name: str
    urls: tuple[str, ...]  # mirrors, tried in order
    sha256: str | None  # None: recorded on first download


def _mirrored(bases: tuple[str, ...], name: str, sha256: str | None) -> RemoteFile:
    return RemoteFile(name, tuple(base + name for base in bases), sha256)


MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
FASHION_MIRRORS = ("https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
                   "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                   "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "mnist": tuple(_mirrored(MNIST_MIRRORS, name, digest) for name, digest in zip(IDX_FILES, (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ), strict=True)),
    "fashion_mnist": tuple(_mirrored(FASHION_MIRRORS, name, digest)
                           for name, digest in zip(IDX_FILES, (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ), strict=True)),
    "cora": (RemoteFile("cora.tgz", ("https://linqs-data.soe.ucsc.edu/public/lbc/cora.tgz",), None),),
}


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("netcanvas")) / "datasets"


def cache_dir(dataset: str) -> Path:
    return cache_root() / dataset


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(dataset: str, download: bool = True) -> dict[str, Path]:
    """Every file of `dataset` in its cache folder, downloading what is missing."""
    folder = cache_dir(dataset)
    files = SOURCES[dataset]
    paths = {}
    for remote in files:
        path = folder / remote.name
        if not path.is_file():
            if not download:
                raise DatasetError(f"{dataset}: {path} is missing and downloading is off; "
                                   f"{_by_hand(files, folder)}")
            _download(dataset, remote, path, files)
        _verify(dataset, remote, path)
        paths[remote.name] = path
    return paths


def _by_hand(files: tuple[RemoteFile, ...], folder: Path) -> str:
    listing = ", ".join(f"{r.name} ({r.urls[0]})" for r in files)
    return f"you may download them by hand and place them in {folder}: {listing}"


def _download(dataset: str, remote: RemoteFile, path: Path, files: tuple[RemoteFile, ...]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{dataset}: cannot create the cache folder {path.parent} ({exc}); "
                           f"set {CACHE_ENV} to a writable folder") from exc
    failures = []
    for url in remote.urls:
        handle, temp = tempfile.mkstemp(prefix=remote.name + ".", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                digest = _copy_url(url, out)
            if remote.sha256 is not None and digest != remote.sha256:
                failures.append(f"{url}: checksum mismatch (expected sha256 {remote.sha256}, "
                                f"got {digest})")
                continue
            os.replace(temp, path)  # atomic: the name appears only for a complete, checked file
            if remote.sha256 is None:
                _write_record(path, digest, remote.name)
            return
        except OSError as exc:  # URLError, HTTPError and timeouts are OSErrors
            failures.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    raise DatasetError(f"cannot download {dataset} ({remote.name}): {'; '.join(failures)}. "
                       f"Check the network, or {_by_hand(files, path.parent)}")


def _copy_url(url: str, out: Any) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": "netcanvas"})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _recorded(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_record(path: Path, digest: str, name: str) -> None:
    """Atomic, so a crash mid-write cannot leave an empty record that fails every later load."""
    atomic_write_bytes(_recorded(path), f"{digest}  {name}\n".encode())


def _read_record(dataset: str, path: Path) -> str:
    """The digest a `.sha256` record holds; a damaged record is named, not an IndexError."""
    record = _recorded(path)
    words = record.read_text(encoding="utf-8", errors="replace").split()
    if not words or len(words[0]) != 64 or any(c not in "0123456789abcdef" for c in words[0]):
        raise DatasetError(f"{dataset}: the checksum record {record} is damaged; delete it "
                           f"(and {path.name} if in doubt) to record or download it again")
    return words[0]


def _verify(dataset: str, remote: RemoteFile, path: Path) -> None:
    """Files placed by hand, or damaged since, are caught before they are parsed."""
    expected = remote.sha256
    record = _recorded(path)
    digest = sha256_of(path)
    if expected is None:
        if not record.is_file():  # first sight of a file placed by hand: trust and record it
            _write_record(path, digest, remote.name)
            return
        expected = _read_record(dataset, path)
    if digest != expected:
        raise DatasetError(f"{dataset}: {path} does not match its checksum (expected sha256 "
                           f"{expected}, got {digest}); delete it to download it again")


# -- MNIST and Fashion-MNIST -------------------------------------------------------------

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


def _idx_dataset(name: str, class_names: list[str]) -> Callable[[dict[str, Any], int], ArrayDataset]:
    def load(spec: dict[str, Any], seed: int) -> ArrayDataset:
        paths = fetch(name, option(spec, "download", True, bool))
        images = [read_idx(paths[f]) for f in IDX_FILES[0::2]]
        labels = [read_idx(paths[f]) for f in IDX_FILES[1::2]]
        for kind, x, y in zip(("train", "t10k"), images, labels, strict=True):
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DatasetError(f"{name}: {kind} images {x.shape} and labels {y.shape} "
                                   "do not match")
        n_train = len(labels[0])
        x = (np.concatenate(images)[:, None].astype(np.float32) / 255.0)
        y = np.concatenate(labels).astype(np.int64)
        return ArrayDataset(name, x, y, _idx_splits(spec, seed, n_train, len(y)), 10,
                            list(class_names), {"image_size": x.shape[-1]})

    return load


def _idx_splits(spec: dict[str, Any], seed: int, n_train: int, total: int) -> dict[str, np.ndarray]:
    """The official test set stays the test set; validation is carved from training."""
    val_size = option(spec, "val_size", 5000, int, minimum=1, maximum=max(1, n_train - 1))
    train_size = option(spec, "train_size", None, int, minimum=1)
    order = np.random.default_rng(seed).permutation(n_train)
    val, train = order[:val_size], order[val_size:]
    if train_size is not None:
        train = train[:train_size]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.arange(n_train, total)}


IDX_OPTIONS = {
    "val_size": "training images held out for validation (default 5000)",
    "train_size": "use only this many training images (default: all the rest)",
    "download": "download missing files (default true)",
}

register(DatasetEntry(
    "mnist", "MNIST handwritten digits: 60,000 training and 10,000 test images, 28×28 in "
    "[0, 1]. Downloaded once (about 11 MB).", "arrays",
    _idx_dataset("mnist", [str(d) for d in range(10)]),
    lambda spec: {"x": (None, 1, 28, 28)}, dict(IDX_OPTIONS),
    facts=lambda spec: class_facts({"x": (None, 1, 28, 28)}, 10),
))
register(DatasetEntry(
    "fashion_mnist", "Fashion-MNIST: Zalando's clothing pictures in MNIST's format, 10 classes. "
    "Downloaded once (about 30 MB).", "arrays",
    _idx_dataset("fashion_mnist", FASHION_CLASSES),
    lambda spec: {"x": (None, 1, 28, 28)}, dict(IDX_OPTIONS),
    facts=lambda spec: class_facts({"x": (None, 1, 28, 28)}, 10),
))


# -- Cora ------------------------------------------------------------------------------

CORA_NODES, CORA_WORDS, CORA_CLASSES = 2708, 1433, 7


def _cora(spec: dict[str, Any], seed: int) -> GraphDataset:
    folder = cache_dir("cora")
    if (folder / "cora.content").is_file() and (folder / "cora.cites").is_file():
        source = folder  # extracted by hand
    else:
        source = fetch("cora", option(spec, "download", True, bool))["cora.tgz"]
    ids, features, subjects, edges = read_cora(source)
    adjacency, labels, names, dropped = cora_graph(ids, features, subjects, edges)
    if option(spec, "normalize_features", True, bool):
        # Row-normalised bag of words, as in Kipf & Welling's GCN.
        features = features / np.maximum(features.sum(axis=1, keepdims=True), 1.0)
    masks = _planetoid_masks(labels, len(names), seed,
                             option(spec, "labels_per_class", 20, int, minimum=1),
                             option(spec, "val_size", 500, int, minimum=0),
                             option(spec, "test_size", 1000, int, minimum=1))
    return GraphDataset("cora", adjacency, features.astype(np.float32), labels, masks,
                        len(names), names, {"dropped_citations": dropped})


def _planetoid_masks(labels: np.ndarray, classes: int, seed: int, per_class: int,
                     val_size: int, test_size: int) -> dict[str, np.ndarray]:
    """Planetoid-style split: a few labelled nodes per class, then validation and test nodes."""
    rng = np.random.default_rng(seed)
    count = len(labels)
    train = np.zeros(count, bool)
    for c in range(classes):
        members = np.flatnonzero(labels == c)
        train[rng.choice(members, min(per_class, max(1, len(members) - 1)), replace=False)] = True
    rest = rng.permutation(np.flatnonzero(~train))
    test_size = min(test_size, max(1, len(rest) // 2))
    val_size = min(val_size, len(rest) - test_size)
    masks = {}
    for split, chosen in (("val", rest[:val_size]), ("test", rest[val_size:val_size + test_size])):
        masks[split] = np.zeros(count, bool)
        masks[split][chosen] = True
    return {"train": train, **masks}


register(DatasetEntry(
    "cora", "Cora citation graph: 2,708 papers, 5,429 citations, 1,433-word bag of words, "
    "7 subjects. Downloaded once (about 170 kB).", "graph", _cora,
    lambda spec: {"adjacency": (CORA_NODES, CORA_NODES), "features": (CORA_NODES, CORA_WORDS)},
    {"labels_per_class": "labelled training papers per subject (default 20)",
     "val_size": "validation papers (default 500)", "test_size": "test papers (default 1000)",
     "normalize_features": "divide each paper's word flags by their sum (default true)",
     "download": "download missing files (default true)"},
    facts=lambda spec: DataFacts(
        "graph", {"adjacency": (CORA_NODES, CORA_NODES), "features": (CORA_NODES, CORA_WORDS)},
        CORA_CLASSES, (CORA_NODES,), nodes=CORA_NODES),
))
