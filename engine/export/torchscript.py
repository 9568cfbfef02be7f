"""TorchScript export (`.pt`), loadable with `torch.jit.load` and nothing else.

TorchScript is deprecated in PyTorch (in maintenance, no new features; the
`pt2` format is its successor). It stays for consumers that only read it:
C++ `torch::jit::load`, older mobile runtimes, existing serving code.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from engine.document import Document
from engine.errors import NetCanvasError
from engine.export import Exported
from engine.export.preparation import EXAMPLE_BATCH, first_line, prepare, quiet, within
from engine.fileio import atomic_write_bytes


def export_torchscript(doc: Document, network: str = "main",
                       path: str | os.PathLike = "model.pt") -> Exported:
    """Write one network as TorchScript, checked by loading it back and running it.

    Scripting keeps any control flow; tracing is the fallback for a module
    TorchScript's compiler refuses, and the check catches what tracing
    would have baked in.
    """
    prep = prepare(doc, network)
    how = "scripted"
    with quiet():
        try:
            program = torch.jit.script(prep.module)
        except Exception:
            how = "traced"
            try:
                program = torch.jit.trace(prep.module, prep.example(EXAMPLE_BATCH))
            except Exception as exc:
                raise NetCanvasError(f"TorchScript cannot express network '{network}': "
                                     f"{first_line(exc)}") from exc
        buffer = io.BytesIO()
        torch.jit.save(program, buffer)
        loaded = torch.jit.load(io.BytesIO(buffer.getvalue()))
    example = prep.example(prep.check_batch(), seed=1)
    with torch.no_grad():
        ok, diff = within(prep.module(*example), loaded(*example))
    if not ok:
        raise NetCanvasError(f"the TorchScript export of network '{network}' differs from "
                             f"PyTorch by {diff:.3g}; export it as PyTorch source instead")
    atomic_write_bytes(path, buffer.getvalue())
    return Exported(network, Path(path), f"{how}; reloaded outputs match within {diff:.1e}")
