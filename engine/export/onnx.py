"""ONNX export (`.onnx`): opset 18, batch axis dynamic, tensors named after node ids.

The file is checked with onnxruntime on fresh inputs of another batch size
before it replaces anything; a network the exporter cannot express (or that
onnxruntime computes differently) is refused with a message that points to
the formats that can carry it.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

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

ONNX_OPSET = 18  # the exporter's native opset: no version conversion pass to go wrong
ONNX_TOLERANCE = 1e-4  # onnxruntime's kernels fuse and reorder more than another thread count


def export_onnx(doc: Document, network: str = "main", path: str | os.PathLike = "model.onnx",
                opset: int = ONNX_OPSET) -> Exported:
    """Write one network as ONNX and check it against PyTorch with onnxruntime."""
    try:
        import onnx  # noqa: F401  (the exporter needs both; say so before trying)
        import onnxscript  # noqa: F401
    except ImportError:
        raise NetCanvasError("ONNX export needs the onnx and onnxscript packages "
                             "(pip install onnx onnxscript)") from None
    prep = prepare(doc, network)
    batch = torch.export.Dim("batch")
    # By position: fx may rename a placeholder (`in` -> `in_`), the order is fixed.
    dynamic = tuple({0: batch} if prep.batched(name) else None for name in prep.inputs)
    with replacing(path) as tmp:
        try:
            with quiet():
                program = torch.onnx.export(
                    prep.module, prep.example(EXAMPLE_BATCH), dynamo=True,
                    opset_version=opset, input_names=prep.inputs, output_names=prep.outputs,
                    dynamic_shapes=dynamic, verbose=False, optimize=False,
                )
                _optimize_keeping_batch_norm(program)
                program.save(str(tmp), external_data=False)
        except Exception as exc:
            raise NetCanvasError(
                f"ONNX cannot express network '{network}': {first_line(exc)}. "
                "Export it as TorchScript or PyTorch source instead."
            ) from exc
        note = _check(prep, tmp)
    return Exported(network, Path(path), note)


def _optimize_keeping_batch_norm(program) -> None:
    """The exporter's own clean-up of the graph, but for folding batch norm into a convolution.

    Folded, a BatchNormalization becomes a bias of the Conv before it: the file computes
    the same numbers but no longer holds the network (a ResidualBlock's convolutions have
    no bias), and `netcanvas import` could not give the BatchNorm2d block back.
    onnxruntime folds it by itself when it loads the file, so inference loses nothing.
    The rule list is onnxscript's private default; without it, the full clean-up runs.
    """
    from onnxscript import rewriter

    rules = getattr(rewriter, "_DEFAULT_REWRITE_RULES", None)
    try:
        from onnxscript.rewriter.rules.common import _fuse_batchnorm
    except ImportError:
        rules = None
    if rules is None:
        program.optimize()
        return
    folding = {id(rule) for rule in _fuse_batchnorm.rules}
    kept = tuple(rule for rule in rules if id(rule) not in folding)
    with mock.patch.object(rewriter, "_DEFAULT_REWRITE_RULES", kept):
        program.optimize()


def _check(prep: Prepared, path: Path) -> str:
    try:
        import onnxruntime
    except ImportError:
        return "not checked: onnxruntime is not installed"
    batch = prep.check_batch()
    example = prep.example(batch, seed=1)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # failures surface as the exception below, not as log spam
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), example, strict=True)}
        actual = session.run(None, feed)
    except Exception as exc:
        raise NetCanvasError(
            f"ONNX cannot express network '{prep.name}': onnxruntime fails on the exported "
            f"file with a batch of {batch} ({first_line(exc)}). "
            "Export it as TorchScript or PyTorch source instead."
        ) from exc
    with torch.no_grad():
        expected = prep.module(*example)
    ok, diff = within(expected, actual, ONNX_TOLERANCE)
    if not ok:
        raise NetCanvasError(
            f"the ONNX export of network '{prep.name}' differs from PyTorch by {diff:.3g} "
            "(onnxruntime computes it differently); export it as TorchScript instead"
        )
    return f"onnxruntime matches PyTorch within {diff:.1e}"
