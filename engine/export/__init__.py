"""Export: what a trained document becomes so other programs can use it.

Five formats, each checked against the PyTorch module it came from before the
call returns, so a file on disk always computes what the trained model does:

- `onnx` (`.onnx`, see `onnx.py`), compared with onnxruntime;
- `torchscript` (`.pt`, `torchscript.py`), loaded back with `torch.jit.load`
  (deprecated in PyTorch; kept for consumers that only read TorchScript);
- `pt2` (`.pt2`, `pt2.py`), a `torch.export` ExportedProgram with a dynamic
  batch, loaded back with `torch.export.load`;
- `python` (a folder with `model.py` and `state_dict.pt`, `pysource.py`; a
  class per network and per composite block, `pyplan.py`), executed and compared;
- `bundle` (`.ncz`, see `engine/bundle.py`).

`preparation.py` holds what they share: the module in eval mode (dropout
off, batch norm on its running statistics, which is what deployment means),
example inputs and the comparisons. A document with several networks (a GAN's
generator and discriminator) gives one file per network, the network name
inserted before the suffix (`gan.onnx` -> `gan_generator.onnx`).

This module imports neither torch nor the formats until one is used, so the
CLI can list `FORMATS` without loading PyTorch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import NetCanvasError

if TYPE_CHECKING:
    from engine.document import Document

FORMATS = ("onnx", "torchscript", "pt2", "python", "bundle")

# public name -> the module of this package that defines it, loaded on first use (PEP 562)
_LAZY = {
    "prepare": "preparation", "Prepared": "preparation",
    "export_onnx": "onnx", "export_torchscript": "torchscript", "export_pt2": "pt2",
    "export_python": "pysource",
}


@dataclass(frozen=True)
class Exported:
    """One file (or folder) written, and what its check found."""

    network: str | None
    path: Path
    note: str = ""


def network_path(path: str | os.PathLike, network: str, several: bool) -> Path:
    """`gan.onnx` -> `gan_generator.onnx` when a document has several networks."""
    path = Path(path)
    return path.with_name(f"{path.stem}_{network}{path.suffix}") if several else path


def export_document(doc: Document, fmt: str, out: str | os.PathLike) -> list[Exported]:
    """Export every network of `doc` in format `fmt` (one of FORMATS) to `out`."""
    several = len(doc.networks) > 1
    per_network = {"onnx": "export_onnx", "torchscript": "export_torchscript", "pt2": "export_pt2"}
    if fmt in per_network:
        write = __getattr__(per_network[fmt])
        return [write(doc, n, network_path(out, n, several)) for n in doc.networks]
    if fmt == "python":
        return [__getattr__("export_python")(doc, out)]
    if fmt == "bundle":
        from engine.bundle import save_bundle

        prepare = __getattr__("prepare")
        save_bundle(doc, {n: prepare(doc, n).module for n in doc.networks}, out)
        return [Exported(None, Path(out), "document, weights, metrics and training state")]
    raise NetCanvasError(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")


def run_export(args: argparse.Namespace) -> int:
    """`netcanvas export FILE --format F --out PATH`: one line per file written."""
    from engine import load_document

    doc = load_document(args.file)
    missing = [n for n in doc.networks if n not in doc.weights]
    if missing:
        which = "" if len(missing) == len(doc.networks) else f" for {', '.join(missing)}"
        print(f"netcanvas export: {args.file} holds no trained weights{which}; exporting freshly "
              "initialised ones (train it and export the bundle to keep what it learned)",
              file=sys.stderr)
    for item in export_document(doc, args.format, args.out):
        label = f"{item.network}: " if item.network and len(doc.networks) > 1 else ""
        print(f"{label}wrote {item.path}" + (f" ({item.note})" if item.note else ""))
    return 0


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")


__all__ = ["FORMATS", "Exported", "export_document", "network_path", "run_export", *_LAZY]
