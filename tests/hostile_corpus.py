"""Generators of hostile bundles: a valid `.ncz` taken apart and put back together wrong.

`valid_members()` is a small trained bundle's members; `build_zip` writes any
list of members (names, bytes, compression of our choosing, duplicates too);
`patch_member` rewrites a member's header fields in both the local header and
the central directory (flags, compression method, declared size), as a
hand-made or malicious zip would have them.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors

import engine
from engine.bundle import save_bundle
from tests.helpers import iris_mlp

Member = tuple[str, bytes] | tuple[str, bytes, int]
LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def trained_document() -> engine.Document:
    """The iris MLP with initial weights, an Adam state, curves and a confusion matrix."""
    doc = iris_mlp()
    torch.manual_seed(0)
    model = engine.compile_network(doc)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    doc.weights = {"main": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    doc.metrics = {
        "test_accuracy": 0.9,
        "confusion_matrix": [[5, 0, 0], [0, 4, 1], [0, 0, 5]],
        "class_names": ["setosa", "versicolor", "virginica"],
        "history": {"epoch_train": [{"loss": 1.0, "accuracy": 0.5}],
                    "epoch_val": [{"loss": 1.1, "accuracy": float("nan")}]},
    }
    doc.train_state = {"task": "classification", "step": 1, "epoch": 1,
                       "optimizers": {"main": optimizer.state_dict()},
                       "rng": {"shuffle": torch.Generator().get_state(),
                               "torch": torch.get_rng_state()}}
    return doc


def valid_bundle(path: Path) -> Path:
    save_bundle(trained_document(), None, path)
    return path


def valid_members(tmp: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(valid_bundle(tmp / "valid.ncz")) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def build_zip(members: list[Member]) -> bytes:
    """A zip of exactly these members, in this order (duplicates allowed)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as zf:
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point
        for name, data, *method in members:
            zf.writestr(name, data, method[0] if method else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def replaced(members: dict[str, bytes], **changes: bytes) -> list[Member]:
    """The members with some replaced (keys use `_` for `.`: `metrics_json=...`)."""
    named = {key.replace("_json", ".json").replace("_safetensors", ".safetensors"): value
             for key, value in changes.items()}
    return [(name, named.get(name, data)) for name, data in members.items()]


def patch_member(data: bytes, name: str, *, flags: int | None = None, method: int | None = None,
                 size: int | None = None) -> bytes:
    """Rewrite `name`'s flag bits, compression method or declared size in both headers."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(name).header_offset
        central = zf.start_dir
    assert out[local:local + 4] == LOCAL
    _patch(out, local, 6, flags, method, size)
    position = central
    while out[position:position + 4] == CENTRAL:
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", out, position + 28)
        if bytes(out[position + 46:position + 46 + name_len]).decode() == name:
            _patch(out, position, 8, flags, method, size)
        position += 46 + name_len + extra_len + comment_len
    return bytes(out)


def _patch(out: bytearray, start: int, flag_at: int, flags, method, size) -> None:
    if flags is not None:
        struct.pack_into("<H", out, start + flag_at, flags)
    if method is not None:
        struct.pack_into("<H", out, start + flag_at + 2, method)
    if size is not None:  # the uncompressed size sits 14 bytes after the method
        struct.pack_into("<I", out, start + flag_at + 16, size)


def nested_json(depth: int) -> bytes:
    return ('{"task": "classification", "deep": ' + "[" * depth + "]" * depth + "}").encode()


def safetensors_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    """A safetensors file with any header, valid or not."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def weights_with(shapes: dict[str, tuple[int, ...]]) -> bytes:
    """Real zero tensors under these keys (a plausible file with the wrong contents)."""
    return save_safetensors({key: torch.zeros(shape) for key, shape in shapes.items()})
