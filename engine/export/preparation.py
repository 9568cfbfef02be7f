"""What every export format shares: the module in eval mode, example inputs, checks.

`prepare` compiles a network with its trained weights (or, without them,
initialised under the document's seed, so exporting the same `.json` twice
writes the same numbers). The compiler has already checked the graph and left
its report in `module.meta["report"]`, so nothing here checks it again.

Each format then writes its file to a temporary path, checks what it wrote
against `Prepared.module` on inputs of another batch size than the one it
traced with (a baked-in batch shows up), and only then puts it in place.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import fx

from engine.blocks.base import Shape
from engine.compiler import compile_network, layer_names, network_report
from engine.document import Document
from engine.errors import NetCanvasError
from engine.fileio import replacing  # noqa: F401  (the exporters' one way to write a file)
from engine.shapes import NetworkReport

EXAMPLE_BATCH = 3  # tracing batch; checks run on another size so a baked-in batch shows up
CHECK_BATCH = 5
# Two float32 computations of the same network (another exporter's kernels, another
# thread count) agree to a few ulps per operation; relative to the outputs' scale.
FLOAT32_TOLERANCE = 1e-5


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
    layers: dict[str, str]  # node id -> the module's attribute (see compiler.layer_names)

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

    def check_batch(self) -> int:
        """The batch to check an export with: not the traced one, when there is a batch."""
        return CHECK_BATCH if any(self.batched(n) for n in self.inputs) else EXAMPLE_BATCH


def prepare(doc: Document, network: str = "main") -> Prepared:
    """Compile `network` in eval mode with its trained weights."""
    module = _compiled(doc, network)
    module.eval()
    report = network_report(module)
    net = doc.network(network)
    inputs = list(module.meta["inputs"])  # node ids; placeholders may be renamed (`class_`)
    vocab = {}
    for input_id in inputs:
        for edge in net.outgoing(input_id):
            node = net.nodes[edge.dst]
            if node.block == "Embedding":
                vocab[input_id] = node.resolved_params()["num_embeddings"]
    return Prepared(
        network, module, inputs,
        [n for n in net.topological_order() if net.nodes[n].block == "Output"],
        {i: report.nodes[i].outputs["out"] for i in inputs},
        {i: net.nodes[i].resolved_params()["source"] for i in inputs}, vocab, report,
        layer_names(module),
    )


def _compiled(doc: Document, network: str) -> fx.GraphModule:
    if network not in doc.weights:
        with torch.random.fork_rng():
            torch.manual_seed(int(doc.training.get("seed", 0) or 0))
            return compile_network(doc, network, trained=False)
    try:
        return compile_network(doc, network)
    except RuntimeError as exc:  # load_state_dict: missing, unexpected or resized keys
        raise NetCanvasError(f"the trained weights of network '{network}' do not fit its "
                             f"blocks (was the graph edited after training?): "
                             f"{first_line(exc)}") from exc


def as_tuple(value) -> tuple[torch.Tensor, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def max_difference(expected, actual) -> float:
    """The largest absolute difference between two outputs (tensors or arrays).

    Equal infinities and NaN facing NaN count as equal (a network may compute
    them), NaN facing a number as infinitely far.
    """
    diffs = [_difference(e.detach().double(), torch.as_tensor(a).double()).max().item()
             for e, a in zip(as_tuple(expected), as_tuple(actual), strict=True) if e.numel()]
    return max(diffs, default=0.0)


def _difference(expected: torch.Tensor, actual: torch.Tensor) -> torch.Tensor:
    same = (expected == actual) | (expected.isnan() & actual.isnan())
    diff = torch.where(same, torch.zeros_like(expected), (actual - expected).abs())
    return diff.nan_to_num(nan=float("inf"))


def within(expected, actual, tolerance: float = FLOAT32_TOLERANCE) -> tuple[bool, float]:
    """Whether `actual` matches `expected` within `tolerance` of the outputs' scale, and by how much.

    Infinite outputs do not make the scale infinite: they must match exactly.
    """
    diff = max_difference(expected, actual)
    scale = max((e.detach().abs().nan_to_num(0.0, 0.0).max().item()
                 for e in as_tuple(expected) if e.numel()), default=0.0)
    return diff <= tolerance * max(1.0, scale), diff


def first_line(exc: BaseException, limit: int = 300) -> str:
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


@contextlib.contextmanager
def quiet() -> Iterator[None]:
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
