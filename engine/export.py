"""Export: what a trained document becomes so other programs can use it.

Four formats, each checked against the PyTorch module it came from before the
call returns, so a file on disk always computes what the trained model does:

- ONNX (`.onnx`, opset 18, batch axis dynamic, tensors named after the
  `Input`/`Output` node ids), compared with onnxruntime on fresh random inputs;
- TorchScript (`.pt`), loaded back with `torch.jit.load`;
- PyTorch source (a folder with `model.py` and `state_dict.pt`, see
  `engine/pysource.py`), executed and compared exactly;
- the bundle (`.ncz`, see `engine/bundle.py`).

Modules are exported in eval mode: dropout off, batch norm on its running
statistics, which is what deployment means. A document with several networks
(a GAN's generator and discriminator) gives one file per network, the network
name inserted before the suffix (`gan.onnx` -> `gan_generator.onnx`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import fx

from engine.blocks.base import Shape
from engine.bundle import save_bundle
from engine.compiler import checked_network, compile_network
from engine.document import Document
from engine.errors import NetCanvasError
from engine.fileio import atomic_write_bytes
from engine.shapes import NetworkReport

FORMATS = ("onnx", "torchscript", "python", "bundle")
ONNX_OPSET = 18  # the exporter's native opset: no version conversion pass to go wrong
EXAMPLE_BATCH = 3  # tracing batch; checks run on another size so a baked-in batch shows up
CHECK_BATCH = 5
ONNX_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Exported:
    """One file (or folder) written, and what its check found."""

    network: str | None
    path: Path
    note: str = ""


@dataclass
class Prepared:
    """A network compiled for export, with what it takes to feed it."""

    name: str
    module: fx.GraphModule
    inputs: list[str]  # Input node ids, in the order forward() takes them
    outputs: list[str]  # Output node ids, in the order forward() returns them
    shapes: dict[str, Shape]  # per Input: its shape, None for the batch axis
    sources: dict[str, str]  # per Input: the dataset field it reads (x, adjacency, ...)
    vocab: dict[str, int]  # Inputs that feed an Embedding -> vocabulary size
    report: NetworkReport  # shapes per node, for comments and checks
    layers: dict[str, str]  # node id -> the module's attribute (see layer_names)

    def example(self, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random inputs of the right kind: tokens for embeddings, 0/1 for adjacency."""
        generator = torch.Generator().manual_seed(seed)
        values = []
        for name in self.inputs:
            shape = tuple(batch if d is None else d for d in self.shapes[name])
            if name in self.vocab:
                values.append(torch.randint(0, self.vocab[name], shape, generator=generator))
            elif self.sources[name] == "adjacency":
                values.append((torch.rand(shape, generator=generator) > 0.5).float())
            else:
                values.append(torch.randn(shape, generator=generator))
        return tuple(values)

    def batched(self, input_id: str) -> bool:
        shape = self.shapes[input_id]
        return bool(shape) and shape[0] is None


def prepare(doc: Document, network: str = "main") -> Prepared:
    """Compile `network` in eval mode with its trained weights.

    Without trained weights the module is initialised under the document's
    seed, so exporting the same `.json` twice writes the same numbers.
    """
    report = checked_network(doc, network)
    if network in doc.weights:
        try:
            module = compile_network(doc, network)
        except RuntimeError as exc:  # load_state_dict: missing, unexpected or resized keys
            raise NetCanvasError(f"the trained weights of network '{network}' do not fit its "
                                 f"blocks (was the graph edited after training?): "
                                 f"{_first_line(exc)}") from exc
    else:
        with torch.random.fork_rng():
            torch.manual_seed(int(doc.training.get("seed", 0) or 0))
            module = compile_network(doc, network, trained=False)
    module.eval()
    net = doc.network(network)
    order = net.topological_order()
    inputs = list(module.meta["inputs"])  # node ids; placeholders may be renamed (`class_`)
    vocab = {}
    for input_id in inputs:
        for edge in net.outgoing(input_id):
            node = net.nodes[edge.dst]
            if node.block == "Embedding":
                vocab[input_id] = node.resolved_params()["num_embeddings"]
    return Prepared(
        network, module, inputs,
        [n for n in order if net.nodes[n].block == "Output"],
        {i: report.nodes[i].outputs["out"] for i in inputs},
        {i: net.nodes[i].resolved_params()["source"] for i in inputs}, vocab, report,
        layer_names(module),
    )


def layer_names(module: fx.GraphModule) -> dict[str, str]:
    """Node id -> submodule name in a compiled module.

    They are equal except for ids Python or GraphModule reserve (`class`,
    `code`): the compiler renames those submodules (`code_`), and the
    state_dict keys follow.
    """
    return dict(module.meta["submodules"])


def _as_tuple(value) -> tuple[torch.Tensor, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def _max_difference(expected, actual) -> float:
    diffs = [(torch.as_tensor(a).double() - e.detach().double()).abs().max().item()
             for e, a in zip(_as_tuple(expected), _as_tuple(actual), strict=True) if e.numel()]
    return max(diffs, default=0.0)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' deprecation chatter and progress lines; errors still raise."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo",
                                              "torch.fx.experimental.symbolic_shapes",
                                              "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


@contextlib.contextmanager
def _replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` that replaces it only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


# ---- ONNX -----------------------------------------------------------------------


def export_onnx(doc: Document, network: str = "main", path: str | os.PathLike = "model.onnx",
                opset: int = ONNX_OPSET) -> Exported:
    """Write one network as ONNX and check it against PyTorch with onnxruntime.

    A network the exporter cannot express raises NetCanvasError saying so and
    pointing to the formats that can carry it.
    """
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
    with _replacing(path) as tmp:
        try:
            with _quiet():
                torch.onnx.export(
                    prep.module, prep.example(EXAMPLE_BATCH), str(tmp), dynamo=True,
                    opset_version=opset, input_names=prep.inputs, output_names=prep.outputs,
                    dynamic_shapes=dynamic, external_data=False, verbose=False,
                )
        except Exception as exc:
            raise NetCanvasError(
                f"ONNX cannot express network '{network}': {_first_line(exc)}. "
                "Export it as TorchScript or PyTorch source instead."
            ) from exc
        note = _check_onnx(prep, tmp)
    return Exported(network, Path(path), note)


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The gist of an exporter's error, cut short: some run to pages of advice.

    The ONNX exporter wraps the real reason under an "Exception summary"
    heading, after its own boilerplate; that line is the one to show.
    """
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if ln.strip()]
    if "## Exception summary" in lines and lines.index("## Exception summary") + 1 < len(lines):
        line = lines[lines.index("## Exception summary") + 1]
        line = re.sub(r"^<class '[\w.]+'>: ", "", line)
    else:
        line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _check_onnx(prep: Prepared, path: Path) -> str:
    try:
        import onnxruntime
    except ImportError:
        return "not checked: onnxruntime is not installed"
    batch = CHECK_BATCH if any(prep.batched(n) for n in prep.inputs) else EXAMPLE_BATCH
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
            f"file with a batch of {batch} ({_first_line(exc)}). "
            "Export it as TorchScript or PyTorch source instead."
        ) from exc
    with torch.no_grad():
        expected = prep.module(*example)
    diff = _max_difference(expected, actual)
    scale = max((e.detach().abs().max().item() for e in _as_tuple(expected) if e.numel()),
                default=0.0)
    if not diff <= ONNX_TOLERANCE * max(1.0, scale):
        raise NetCanvasError(
            f"the ONNX export of network '{prep.name}' differs from PyTorch by {diff:.3g} "
            "(onnxruntime computes it differently); export it as TorchScript instead"
        )
    return f"onnxruntime matches PyTorch within {diff:.1e}"


# ---- TorchScript ------------------------------------------------------------------


def export_torchscript(doc: Document, network: str = "main",
                       path: str | os.PathLike = "model.pt") -> Exported:
    """Write one network as TorchScript, loadable with `torch.jit.load` alone.

    Scripting keeps any control flow; tracing is the fallback for a module
    TorchScript's compiler refuses, and the check below catches what tracing
    would have baked in.
    """
    prep = prepare(doc, network)
    how = "scripted"
    with _quiet():
        try:
            program = torch.jit.script(prep.module)
        except Exception:
            how = "traced"
            try:
                program = torch.jit.trace(prep.module, prep.example(EXAMPLE_BATCH))
            except Exception as exc:
                raise NetCanvasError(f"TorchScript cannot express network '{network}': "
                                     f"{_first_line(exc)}") from exc
        buffer = io.BytesIO()
        torch.jit.save(program, buffer)
        loaded = torch.jit.load(io.BytesIO(buffer.getvalue()))
    example = prep.example(CHECK_BATCH, seed=1)
    with torch.no_grad():
        diff = _max_difference(prep.module(*example), loaded(*example))
    if diff > 1e-5:
        raise NetCanvasError(f"the TorchScript export of network '{network}' differs from "
                             f"PyTorch by {diff:.3g}; export it as PyTorch source instead")
    atomic_write_bytes(path, buffer.getvalue())
    return Exported(network, Path(path), f"{how}; reloaded outputs match within {diff:.1e}")


# ---- everything at once, and the CLI ---------------------------------------------------


def network_path(path: str | os.PathLike, network: str, several: bool) -> Path:
    """`gan.onnx` -> `gan_generator.onnx` when a document has several networks."""
    path = Path(path)
    return path.with_name(f"{path.stem}_{network}{path.suffix}") if several else path


def export_python(doc: Document, folder: str | os.PathLike) -> Exported:
    """Write `model.py`, `state_dict.pt` and, for supervised tasks, `train.py` with `data.npz`
    into `folder` (see `engine/pysource.py` and `engine/training_script.py`)."""
    from engine.pysource import write_python
    from engine.training_script import add_training_script

    exported = write_python(doc, folder)
    return Exported(None, exported.path, f"{exported.note}; {add_training_script(doc, folder)}")


def export_document(doc: Document, fmt: str, out: str | os.PathLike) -> list[Exported]:
    """Export every network of `doc` in format `fmt` (one of FORMATS) to `out`."""
    several = len(doc.networks) > 1
    if fmt == "onnx":
        return [export_onnx(doc, n, network_path(out, n, several)) for n in doc.networks]
    if fmt == "torchscript":
        return [export_torchscript(doc, n, network_path(out, n, several)) for n in doc.networks]
    if fmt == "python":
        return [export_python(doc, out)]
    if fmt == "bundle":
        models = {n: prepare(doc, n).module for n in doc.networks}
        save_bundle(doc, models, out)
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


__all__ = ["FORMATS", "Exported", "export_document", "export_onnx", "export_python",
           "export_torchscript", "prepare", "run_export"]

