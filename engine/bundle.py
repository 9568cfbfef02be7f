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
import re
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as save_safetensors
from torch import nn

from engine.bundle_schema import validate_metrics, validate_train_state
from engine.bundle_zip import BundleArchive, TensorTable, describe_bytes
from engine.document import Document
from engine.errors import DocumentError, NetCanvasError
from engine.fileio import atomic_write_bytes
from engine.readwrite import LONE_SURROGATE, document_bytes, parse_document
from engine.safeload import MAX_DOCUMENT_BYTES, MiB, parse_json

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
                train_state: Mapping[str, Any] | None = None) -> list[str]:
    """Write `doc` with trained weights to a `.ncz` file, atomically.

    `models` maps network names to modules (or state_dicts); None takes the
    document's own `weights`. `metrics` and `train_state` default to the
    document's, so re-saving an opened bundle loses nothing.

    The document's own weights of a network edited since it was trained (a
    layer resized, added or removed) no longer fit it, and a bundle holding
    them could not be opened again: they are left out, with the resume state.
    Returns the names of the networks saved without their weights.
    """
    state_dicts = _state_dicts(doc, models)
    stale = _stale_networks(doc, state_dicts) if models is None else []
    if stale:
        state_dicts = {n: s for n, s in state_dicts.items() if n not in stale}
        train_state = {}
    weights = {
        f"{network}/{key}": _tensor(value, f"{network}/{key}")
        for network, state in state_dicts.items() for key, value in state.items()
    }
    state_tree, state_tensors = encode_tree(doc.train_state if train_state is None else train_state)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        _write(zf, DOCUMENT, document_bytes(doc))
        _write(zf, WEIGHTS, save_safetensors(weights, {"format": "netcanvas",
                                                       "bundle_version": str(BUNDLE_VERSION)}),
               compress=False)
        _write(zf, METRICS, _dumps(plain_json(doc.metrics if metrics is None else metrics)))
        _write(zf, STATE_JSON, _dumps(state_tree))
        _write(zf, STATE_TENSORS, save_safetensors(state_tensors), compress=False)
    atomic_write_bytes(path, buffer.getvalue())
    return stale


def stale_message(networks: list[str]) -> str:
    """What a person reads when `save_bundle` left weights out."""
    names = ", ".join(f"'{n}'" for n in networks)
    return (f"network {names} changed since it was trained: saved without its trained weights "
            "(train it again to keep new ones)")


def _stale_networks(doc: Document, state_dicts: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Networks whose weights have other keys or shapes than the graph now builds."""
    stale = []
    for network, state in state_dicts.items():
        expected = expected_state_shapes(doc, network)
        if expected is None:
            continue  # a graph with errors: the loader takes its weights unchecked, up to a floor
        actual = {key: tuple(getattr(value, "shape", ())) for key, value in state.items()}
        if actual != expected:
            stale.append(network)
    return stale


def save_run(doc: Document, target: str | os.PathLike) -> tuple[Path, str | None]:
    """Save a finished run's bundle so that its trained weights are never lost.

    Tries `target`; if that fails (a folder in the way, a name the filesystem
    refuses, no permission, a full disk), a safe ASCII name beside it, then the
    same in the temporary folder, and last the weights and document alone
    (without metrics and resume state). Returns where the bundle went and why
    `target` failed (None when it did not). Raises only when every place failed.
    """
    target = Path(target)
    problem: str | None = None
    safe = f"{_safe_stem(target.stem)}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.ncz"
    attempts = [(target, True), (target.parent / safe, True),
                (Path(tempfile.gettempdir()) / safe, True),
                (target.parent / safe, False), (Path(tempfile.gettempdir()) / safe, False)]
    for path, complete in attempts:
        try:
            if complete:
                save_bundle(doc, None, path)
            else:
                save_bundle(doc, None, path, metrics={}, train_state={})
            return path, problem
        except (NetCanvasError, OSError, ValueError) as exc:
            problem = problem or str(exc)
    raise NetCanvasError(f"cannot save the trained run anywhere: {problem}")


def _safe_stem(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "netcanvas-run"


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
    """UTF-8 JSON; a lone surrogate (only code can make one) becomes U+FFFD, never an error."""
    text = json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


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

MAX_METRICS_BYTES = 32 * MiB  # a million-step loss history written one number a line
MAX_STATE_JSON_BYTES = 16 * MiB
WEIGHTS_FLOOR = 64 * MiB  # for networks whose parameters checking cannot work out
STATE_FLOOR = 16 * MiB  # random states and counters
STATE_PER_WEIGHT_BYTE = 4  # Adam keeps two moments per parameter; room for more


def load_bundle(path: str | os.PathLike) -> Document:
    """Open a `.ncz`: the document with `weights`, `metrics` and `train_state` filled.

    Every problem is a DocumentError naming the file and the member at fault;
    no member is unpacked before its declared size is checked against its role.
    """
    file = str(path)
    with BundleArchive(path) as archive:
        doc = _document(archive)
        table = archive.tensor_table(WEIGHTS)
        check_weight_table(doc, table, file)
        doc.weights = _split_weights(doc, archive.tensors(WEIGHTS, table), file)
        doc.metrics = validate_metrics(_json(archive, METRICS, MAX_METRICS_BYTES), file)
        if STATE_JSON in archive.members:
            doc.train_state = validate_train_state(_train_state(archive, table.data_bytes), file)
    doc.path = file
    return doc


def _document(archive: BundleArchive) -> Document:
    text = archive.read(DOCUMENT, MAX_DOCUMENT_BYTES)
    try:
        return parse_document(text)
    except DocumentError as exc:
        at = f"{DOCUMENT}:{exc.path}" if exc.path else DOCUMENT
        raise DocumentError(archive.file, at, exc.reason) from None


def _json(archive: BundleArchive, member: str, limit: int) -> Any:
    return parse_json(archive.read(member, limit), archive.file, member)


def _train_state(archive: BundleArchive, weight_bytes: int) -> Any:
    tree = _json(archive, STATE_JSON, MAX_STATE_JSON_BYTES)
    tensors: dict[str, torch.Tensor] = {}
    if STATE_TENSORS in archive.members:
        table = archive.tensor_table(STATE_TENSORS)
        budget = STATE_FLOOR + STATE_PER_WEIGHT_BYTE * weight_bytes
        if table.data_bytes > budget:
            raise archive.fail(STATE_TENSORS, f"declares {describe_bytes(table.data_bytes)} of "
                               f"optimizer state for {describe_bytes(weight_bytes)} of weights; "
                               f"at most {describe_bytes(budget)} is plausible")
        tensors = archive.tensors(STATE_TENSORS, table)
    try:
        return decode_tree(tree, tensors)
    except (KeyError, ValueError, TypeError) as exc:
        raise archive.fail(STATE_JSON, f"corrupt training state ({exc})") from None


def check_weight_table(doc: Document, table: TensorTable, file: str) -> None:
    """Every declared weight belongs to a network and has the shape the graph gives it.

    Checked on the safetensors header, before any tensor is read: a network
    that compiles must receive exactly its state_dict's keys and shapes (so
    its weights take at most 8 bytes per parameter); the weights of networks
    that do not compile yet (a graph with errors) share WEIGHTS_FLOOR.
    """
    by_network: dict[str, dict[str, str]] = {}
    for key in table.shapes:
        network, sep, name = key.partition("/")
        if not sep or network not in doc.networks:
            raise DocumentError(file, WEIGHTS, f"weight '{_printable(key)}' belongs to no network "
                                f"of the document (it has: {', '.join(doc.networks) or 'none'})")
        by_network.setdefault(network, {})[name] = key
    unchecked = 0
    for network, names in by_network.items():
        expected = expected_state_shapes(doc, network)
        if expected is None:
            unchecked += sum(table.nbytes(key) for key in names.values())
            continue
        _same_state(expected, names, table, network, file)
    if unchecked > WEIGHTS_FLOOR:
        raise DocumentError(file, WEIGHTS, f"declares {describe_bytes(unchecked)} of weights for "
                            "networks whose size cannot be checked (fix the graph's errors); "
                            f"at most {describe_bytes(WEIGHTS_FLOOR)} is read")


def _same_state(expected: dict[str, tuple[int, ...]], names: dict[str, str], table: TensorTable,
                network: str, file: str) -> None:
    extra = sorted(set(names) - set(expected))
    if extra:
        raise DocumentError(file, WEIGHTS, f"weight '{_printable(names[extra[0]])}' is not a "
                            f"parameter of network '{network}' ({len(extra)} such)")
    missing = sorted(set(expected) - set(names))
    if missing:
        raise DocumentError(file, WEIGHTS, f"weight '{network}/{missing[0]}' is missing "
                            f"({len(missing)} of {len(expected)} missing)")
    for name, key in names.items():
        if table.shapes[key] != expected[name]:
            raise DocumentError(file, WEIGHTS, f"weight '{key}' has shape "
                                f"{_dims(table.shapes[key])}; the graph needs {_dims(expected[name])}")


def expected_state_shapes(doc: Document, network: str) -> dict[str, tuple[int, ...]] | None:
    """The network's state_dict shapes, built on the meta device; None if it does not compile."""
    from engine.compiler import compile_network  # torch.fx: loaded when a bundle is

    try:
        with torch.device("meta"):
            module = compile_network(doc, network, trained=False)
    except Exception:  # any reason a graph does not build: its weights fall under the floor
        return None
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "a scalar"


def _printable(text: str) -> str:
    return ascii(text)[1:-1][:120]


def _split_weights(doc: Document, flat: dict[str, torch.Tensor], file: str
                   ) -> dict[str, dict[str, torch.Tensor]]:
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        network, _, name = key.partition("/")
        weights.setdefault(network, {})[name] = tensor
    return weights


__all__ = ["load_bundle", "save_bundle", "save_run"]
