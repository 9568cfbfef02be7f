"""`torch.export` export (`.pt2`): an ExportedProgram, the format PyTorch reads today.

`torch.export.export` captures the network as an ATen-level graph with the
batch axis dynamic; `torch.export.save` writes it, and before the file lands
it is read back with `torch.export.load` and run on a batch of another size
against the trained module. Consumers load it with `torch.export.load(path)
.module()`, hand it to AOTInductor (`torch._inductor.aoti_compile_and_package`)
or ExecuTorch; no NetCanvas and no Python source needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.document import Document
from engine.errors import NetCanvasError
from engine.export import Exported
from engine.export.preparation import (
    EXAMPLE_BATCH,
    Prepared,
    first_line,
    prepare,
    quiet,
    replacing,
    within,
)


def export_pt2(doc: Document, network: str = "main", path: str | os.PathLike = "model.pt2") -> Exported:
    """Write one network as a `torch.export` ExportedProgram and check it after reloading."""
    prep = prepare(doc, network)
    batch = torch.export.Dim("batch")
    # By position: fx may rename a placeholder (`in` -> `in_`), the order is fixed.
    dynamic = tuple({0: batch} if prep.batched(name) else None for name in prep.inputs)
    with replacing(path) as tmp:
        try:
            with quiet():
                program = torch.export.export(prep.module, prep.example(EXAMPLE_BATCH),
                                              dynamic_shapes=dynamic, strict=False)
                torch.export.save(program, str(tmp))
        except Exception as exc:
            raise NetCanvasError(f"torch.export cannot express network '{network}': "
                                 f"{first_line(exc)}. Export it as TorchScript or PyTorch "
                                 "source instead.") from exc
        note = _check(prep, tmp)
    return Exported(network, Path(path), note)


def _check(prep: Prepared, path: Path) -> str:
    batch = prep.check_batch()
    example = prep.example(batch, seed=1)
    try:
        with quiet():
            loaded = torch.export.load(str(path)).module()
            with torch.no_grad():
                actual = loaded(*example)
    except Exception as exc:
        raise NetCanvasError(f"the torch.export program of network '{prep.name}' fails when "
                             f"loaded back, with a batch of {batch}: {first_line(exc)}") from exc
    with torch.no_grad():
        ok, diff = within(prep.module(*example), actual)
    if not ok:
        raise NetCanvasError(f"the torch.export program of network '{prep.name}' differs from "
                             f"PyTorch by {diff:.3g}; export it as TorchScript instead")
    return f"torch.export.load reproduces the model within {diff:.1e} at batch {batch}"
