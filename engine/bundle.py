"""Bundles (`.ncz`): a document with its trained weights, metrics and resume state.

A bundle is a zip another program can read without NetCanvas:

- `document.json`: the document, exactly as a `.json` file holds it;
- `weights.safetensors`: every network's state_dict, keys `network/param`;
- `metrics.json`: the last run's metrics and curves (plain JSON);
- `train_state.json` + `train_state.safetensors`: optimizer states and counters
  for resuming. The tree lives in JSON; each tensor is replaced by a reference
  into the safetensors member, so tuples, integer keys (an optimizer's `state`)
  and non-finite floats survive the trip exactly.

Nothing here unpickles: a bundle is data, and opening a file someone sent must
never run their code. The zip is built in memory and renamed into place, so a
crash never leaves half a bundle over a good one.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from engine.document import Document
from engine.errors import DocumentError, NetCanvasError
from engine.fileio import atomic_write_bytes
from engine.readwrite import document_to_json, parse_document

DOCUMENT = "document.json"
WEIGHTS = "weights.safetensors"
METRICS = "metrics.json"
STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"
BUNDLE_VERSION = 1
TAG = "__nc__"  # marks a JSON object that stands for a tensor, tuple, odd dict or float


# ---- writing ------------------------------------------------------------------


def save_bundle(doc: Document, models: Mapping[str, nn.Module | Mapping[str, Any]] | None,
                path: str | os.PathLike, metrics: Mapping[str, Any] | None = None,
                train_state: Mapping[str, Any] | None = None) -> None:
    """Write `doc` with trained weights to a `.ncz` file, atomically.

    `models` maps network names to modules (or state_dicts); None takes the
    document's own `weights`. `metrics` and `train_state` default to the
    document's, so re-saving an opened bundle loses nothing.
    """
    state_dicts = _state_dicts(doc, models)
    weights = {
        f"{network}/{key}": _tensor(value, f"{network}/{key}")
        for network, state in state_dicts.items() for key, value in state.items()
    }
    state_tree, state_tensors = encode_tree(doc.train_state if train_state is None else train_state)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        _write(zf, DOCUMENT, document_to_json(doc).encode("utf-8"))
        _write(zf, WEIGHTS, save_safetensors(weights, {"format": "netcanvas",
                                                       "bundle_version": str(BUNDLE_VERSION)}),
               compress=False)
        _write(zf, METRICS, _dumps(plain_json(doc.metrics if metrics is None else metrics)))
        _write(zf, STATE_JSON, _dumps(state_tree))
        _write(zf, STATE_TENSORS, save_safetensors(state_tensors), compress=False)
    atomic_write_bytes(path, buffer.getvalue())


def _state_dicts(doc: Document, models) -> dict[str, Mapping[str, Any]]:
    if models is None:
        models = doc.weights
    unknown = [name for name in models if name not in doc.networks]
    if unknown:
        raise NetCanvasError(
            f"cannot save weights for {', '.join(map(repr, unknown))}: the document has no "
            f"such network (it has: {', '.join(doc.networks) or 'none'})"
        )
    return {name: m.state_dict() if isinstance(m, nn.Module) else m for name, m in models.items()}


def _tensor(value: Any, key: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise NetCanvasError(f"cannot save weight '{key}': it is a {type(value).__name__}, "
                             "not a tensor")
    # A copy: safetensors refuses tensors that share memory (tied weights) or are strided.
    return value.detach().to("cpu", copy=True).contiguous()


def _write(zf: zipfile.ZipFile, name: str, data: bytes, compress: bool = True) -> None:
    zf.writestr(name, data, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)


def _dumps(value: Any) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def plain_json(value: Any, where: str = "metrics") -> Any:
    """Metrics as standard JSON any program reads: arrays become lists, NaN null."""
    if isinstance(value, torch.Tensor | np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise NetCanvasError(f"cannot save {where}: a {type(value).__name__} is not plain data")


def encode_tree(tree: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure into JSON and named tensors (see the module doc)."""
    tensors: dict[str, torch.Tensor] = {}

    def encode(value: Any, path: str) -> Any:
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if isinstance(value, torch.Tensor):
            key = path.strip("/") or "value"
            while key in tensors:
                key += "_"
            tensors[key] = _tensor(value, key)
            return {TAG: "tensor", "key": key}
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return {TAG: "float", "value": repr(value)}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, tuple):
            return {TAG: "tuple", "items": [encode(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [encode(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            if all(isinstance(k, str) for k in value) and TAG not in value:
                return {k: encode(v, f"{path}/{k}") for k, v in value.items()}
            return {TAG: "dict", "items": [[encode(k, f"{path}/key"), encode(v, f"{path}/{k}")]
                                           for k, v in value.items()]}
        raise NetCanvasError(f"cannot save the training state at '{path or '/'}': "
                             f"a {type(value).__name__} is neither data nor a tensor")

    return encode(tree, ""), tensors


def decode_tree(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """The inverse of `encode_tree`; a KeyError or ValueError means a corrupt member."""
    if isinstance(tree, list):
        return [decode_tree(v, tensors) for v in tree]
    if not isinstance(tree, dict):
        return tree
    kind = tree.get(TAG)
    if kind is None:
        return {k: decode_tree(v, tensors) for k, v in tree.items()}
    if kind == "tensor":
        return tensors[tree["key"]]
    if kind == "float":
        return float(tree["value"])
    if kind == "tuple":
        return tuple(decode_tree(v, tensors) for v in tree["items"])
    if kind == "dict":
        return {_hashable(decode_tree(k, tensors)): decode_tree(v, tensors) for k, v in tree["items"]}
    raise ValueError(f"unknown tag {kind!r}")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list | tuple) else key


# ---- reading ------------------------------------------------------------------


def load_bundle(path: str | os.PathLike) -> Document:
    """Open a `.ncz`: the document with `weights`, `metrics` and `train_state` filled.

    Every problem is a DocumentError naming the file and the member at fault.
    """
    file = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DocumentError(file, "", "no such file") from None
    except OSError as exc:
        raise DocumentError(file, "", f"cannot read the file: {exc.strerror or exc}") from None
    except zipfile.BadZipFile:
        raise DocumentError(file, "", "not a NetCanvas bundle (it is not a zip file)") from None
    with zf:
        reader = _MemberReader(zf, file)
        try:
            doc = parse_document(reader.read(DOCUMENT))
        except DocumentError as exc:
            at = f"{DOCUMENT}:{exc.path}" if exc.path else DOCUMENT
            raise DocumentError(file, at, exc.reason) from None
        doc.weights = _split_weights(doc, reader.tensors(WEIGHTS), file)
        doc.metrics = reader.json(METRICS)
        if not isinstance(doc.metrics, dict):
            raise DocumentError(file, METRICS, "expected a JSON object of metrics")
        if STATE_JSON in zf.namelist():
            tensors = reader.tensors(STATE_TENSORS) if STATE_TENSORS in zf.namelist() else {}
            try:
                doc.train_state = decode_tree(reader.json(STATE_JSON), tensors)
            except (KeyError, ValueError, TypeError) as exc:
                raise DocumentError(file, STATE_JSON, f"corrupt training state ({exc})") from None
            if not isinstance(doc.train_state, dict):
                raise DocumentError(file, STATE_JSON, "expected a JSON object")
    doc.path = file
    return doc


class _MemberReader:
    """Reads one member at a time, turning every failure into a DocumentError."""

    def __init__(self, zf: zipfile.ZipFile, file: str) -> None:
        self.zf = zf
        self.file = file

    def read(self, member: str) -> bytes:
        try:
            return self.zf.read(member)
        except KeyError:
            raise DocumentError(self.file, member, "missing from the bundle") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise DocumentError(self.file, member, f"damaged ({exc})") from None

    def json(self, member: str) -> Any:
        try:
            return json.loads(self.read(member))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DocumentError(self.file, member, f"not valid JSON ({exc})") from None

    def tensors(self, member: str) -> dict[str, torch.Tensor]:
        try:
            return load_safetensors(self.read(member))
        except (SafetensorError, ValueError, TypeError, RuntimeError) as exc:
            raise DocumentError(self.file, member, f"not a valid safetensors file ({exc})") from None


def _split_weights(doc: Document, flat: dict[str, torch.Tensor], file: str
                   ) -> dict[str, dict[str, torch.Tensor]]:
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        network, sep, name = key.partition("/")
        if not sep or network not in doc.networks:
            raise DocumentError(file, WEIGHTS, f"weight '{key}' belongs to no network of the "
                                f"document (it has: {', '.join(doc.networks) or 'none'})")
        weights.setdefault(network, {})[name] = tensor
    return weights


__all__ = ["load_bundle", "save_bundle"]
