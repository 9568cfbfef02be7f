"""Import: an ONNX model (opset ≥ 13) becomes an editable document with its weights.

The graph is read with the `onnx` package and evaluated once with onnx's
reference evaluator on random inputs of two batch sizes, so every value's
shape is known and the axes that follow the batch are told apart from fixed
ones. Then each operator becomes the catalogue block that computes the same
thing (`engine/onnx_rules.py`): `Gemm` a Linear, `Conv` a Conv2d, `Relu` a
ReLU... A layer that ONNX has no operator for (an RNN unrolled into MatMuls,
multi-head attention, a graph convolution) arrives as many small operators;
PyTorch's exporter tags each with the module it came from
(`pkg.torch.onnx.name_scopes`), and such a group becomes one block: its
settings are the ones, among the few a block allows, that reproduce the
group's recorded outputs from its recorded inputs.

Whatever has no block is reported all at once, each operator with its node
name. Before returning, the compiled document must reproduce the ONNX
model's outputs on fresh inputs, so an import is either faithful or refused.
"""

from __future__ import annotations

import ast
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.compiler import compile_network
from engine.document import Document
from engine.errors import NetCanvasError
from engine.importmap import Port, Unmappable

NETWORK = "main"
MIN_OPSET = 13
BATCHES = (7, 5)  # two example batch sizes: the axes whose size changes are batch axes
SCOPES = "pkg.torch.onnx.name_scopes"
CLASSES = "pkg.torch.onnx.class_hierarchy"
FX_NODE = "pkg.torch.onnx.fx_node"
SHAPE_OPS = {"Shape", "Size"}  # their outputs are sizes, never data


@dataclass
class Value:
    """One ONNX value as recorded at the example batch, with its batch axes marked."""

    array: np.ndarray
    shape: tuple[int | None, ...]  # None where the size follows the batch


@dataclass
class Made:
    """What a group of ONNX operators becomes: a block, its wired inputs and its weights."""

    block: str
    params: dict[str, Any]
    inputs: list[tuple[str, str | Port]]  # (port, ONNX value name or a block's port)
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # ONNX value -> port ("out" if absent)
    absorbed: list[Any] = field(default_factory=list)  # later ONNX nodes this block also computes


@dataclass
class Unit:
    """ONNX nodes that become one block: a single operator, or a PyTorch module's group."""

    nodes: list[Any]
    scope: str | None = None  # the PyTorch module name, for a group
    cls: str | None = None  # its class name, e.g. "MultiheadAttention"
    inputs: list[str] = field(default_factory=list)  # data values from outside, by first use
    outputs: list[str] = field(default_factory=list)  # data values used outside


def import_onnx(path: str | os.PathLike, name: str | None = None) -> Document:
    """Read an ONNX file into a one-network document with its weights.

    Raises NetCanvasError naming every operator that has no block, or saying
    why the file cannot be read.
    """
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf errors name nothing useful; the file is the news
        raise NetCanvasError(f"{path} is not a readable ONNX model: {exc}") from exc
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise NetCanvasError(f"{path} uses ONNX opset {opset}; NetCanvas imports opset {MIN_OPSET} "
                             "or newer (convert it with onnx.version_converter)")
    graph = Graph(model)
    importer = Importer(graph, path.stem)
    doc = importer.build(name or path.stem)
    _check_outputs(doc, graph, importer.names, path.name)
    return doc


def metadata(node) -> dict[str, str]:
    return {p.key: p.value for p in node.metadata_props}


class Graph:
    """The ONNX graph with its initializers as tensors and every value recorded."""

    def __init__(self, model):
        from onnx import numpy_helper

        self.model = model
        self.nodes = list(model.graph.node)
        self.initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        for node in self.nodes:  # Constant nodes are initializers written another way
            if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
                self.initializers[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.inputs = [i for i in model.graph.input if i.name not in self.initializers]
        self.outputs = [o.name for o in model.graph.output]
        self.batched_inputs = {i.name: _batched(i) for i in self.inputs}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.data = self._data_values()
        self.values = self._record()

    def _data_values(self) -> set[str]:
        """Values computed from an input through tensors (not through sizes)."""
        data = {i.name for i in self.inputs}
        for node in self.nodes:
            if node.op_type not in SHAPE_OPS and any(n in data for n in node.input):
                data.update(o for o in node.output if o)
        return data

    def example(self, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
        """Random inputs: token ids below the vocabulary where an input feeds a lookup table."""
        rng = np.random.default_rng(seed)
        feeds = {}
        for inp in self.inputs:
            dims = [d.dim_value if d.HasField("dim_value") else batch
                    for d in inp.type.tensor_type.shape.dim]
            if inp.type.tensor_type.elem_type in (6, 7):  # int32, int64
                dtype = np.int64 if inp.type.tensor_type.elem_type == 7 else np.int32
                feeds[inp.name] = rng.integers(0, self._vocabulary(inp.name), dims).astype(dtype)
            elif not self.batched_inputs[inp.name] and len(dims) == 2 and dims[0] == dims[1]:
                # A whole graph's square matrix is its adjacency: 0/1, as the data gives it
                feeds[inp.name] = (rng.random(dims) > 0.5).astype(np.float32)
            else:
                feeds[inp.name] = rng.standard_normal(dims).astype(np.float32)
        return feeds

    def _vocabulary(self, name: str) -> int:
        sizes = [self.initializers[n.input[0]].shape[0] for n in self.consumers.get(name, [])
                 if n.op_type == "Gather" and n.input[0] in self.initializers]
        return min(sizes, default=2)

    def _record(self) -> dict[str, Value]:
        from onnx.reference import ReferenceEvaluator

        try:
            evaluator = ReferenceEvaluator(self.model)
            runs = [evaluator.run(None, self.example(b), intermediate=True) for b in BATCHES]
        except Exception as exc:
            raise NetCanvasError(f"the ONNX model cannot be evaluated: {type(exc).__name__}: "
                                 f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from exc
        values = {}
        for name, array in runs[0].items():
            other = runs[1].get(name)
            array = np.asarray(array)
            if other is None or np.ndim(other) != array.ndim:
                shape = tuple(array.shape)
            else:
                shape = tuple(None if a != b else a for a, b in zip(array.shape, np.shape(other), strict=True))
            values[name] = Value(array, shape)
        return values

    def constant(self, name: str) -> np.ndarray | None:
        """A value that does not depend on the inputs (an initializer, a folded size), else None."""
        if not name or name in self.data:
            return None
        if name in self.initializers:
            return self.initializers[name]
        value = self.values.get(name)
        return None if value is None else value.array

    def tensor(self, name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(self.values[name].array if name in self.values
                                          else self.initializers[name]))


def _batched(inp) -> bool:
    dims = inp.type.tensor_type.shape.dim
    return bool(dims) and not dims[0].HasField("dim_value")


def group_units(graph: Graph) -> list[Unit]:
    """Operators grouped by the PyTorch module that made them, where that module is a
    block ONNX has no single operator for; every other data operator stands alone."""
    from engine.onnx_rules import COMPOSITES

    units: list[Unit] = []
    groups: dict[str, Unit] = {}
    for node in graph.nodes:
        scope, cls = _scope(node)
        if cls in COMPOSITES:
            if scope not in groups:
                groups[scope] = Unit([], scope, cls)
                units.append(groups[scope])
            groups[scope].nodes.append(node)
        elif any(o in graph.data for o in node.output):
            units.append(Unit([node], scope, cls))
    for unit in units:
        made = {o for n in unit.nodes for o in n.output}
        used = [i for n in unit.nodes for i in n.input if i in graph.data and i not in made]
        unit.inputs = list(dict.fromkeys(used))
        unit.outputs = [o for o in made if o in graph.data and (
            o in graph.outputs or any(c not in unit.nodes for c in graph.consumers.get(o, [])))]
    return units


def _scope(node) -> tuple[str | None, str | None]:
    """The PyTorch module (by name and class name) an operator came from: the outermost
    one that becomes a single block (the MultiheadAttention `encoder.0.attention` inside
    a composite block's copy), else the top-level one."""
    from engine.onnx_rules import COMPOSITES

    meta = metadata(node)
    try:
        scopes = ast.literal_eval(meta.get(SCOPES, "[]"))
        classes = ast.literal_eval(meta.get(CLASSES, "[]"))
    except (ValueError, SyntaxError):
        return None, None
    if len(scopes) < 3 or len(classes) < 3 or not scopes[1]:
        return None, None  # a function called at the top level, not inside a module
    modules = [(s, c.rsplit(".", 1)[-1]) for s, c in zip(scopes[1:-1], classes[1:-1], strict=False)]
    return next(((s, c) for s, c in modules if c in COMPOSITES), modules[0])


class Importer:
    """Walks the units in order, making blocks and wiring them by ONNX value names."""

    def __init__(self, graph: Graph, label: str):
        self.graph = graph
        self.label = label
        self.doc = Document()
        self.net = self.doc.add_network(NETWORK)
        self.ports: dict[str, Port] = {}  # ONNX value name -> where it lives in the document
        self.state: dict[str, torch.Tensor] = {}
        self.problems: list[str] = []
        self.skip: set[int] = set()  # ids of nodes absorbed into an earlier block
        self.names: dict[str, str] = {}  # Input/Output node id -> its ONNX value name

    def build(self, name: str) -> Document:
        from engine.importer import layout

        self.doc.name = name
        self.doc.description = f"Imported from the ONNX model {self.label}."
        self._inputs()
        for unit in group_units(self.graph):
            if all(id(n) in self.skip for n in unit.nodes):
                continue
            try:
                self._unit(unit)
            except Unmappable as exc:
                self.problems.append(_problem(unit, str(exc)))
        self._outputs()
        if self.problems:
            raise NetCanvasError(
                f"cannot import {self.label}: {len(self.problems)} operator(s) have no NetCanvas "
                "block:\n" + "\n".join(f"  - {p}" for p in self.problems))
        self.doc.weights = {NETWORK: self._weights()}
        layout(self.net)
        return self.doc

    def _inputs(self) -> None:
        several = len(self.graph.inputs) > 1
        for inp in self.graph.inputs:
            batched = self.graph.batched_inputs[inp.name]
            dims = self.graph.values[inp.name].shape if inp.name in self.graph.values else ()
            if None in (dims[1:] if batched else dims):
                raise NetCanvasError(f"input '{inp.name}' of {self.label} has a variable size besides the "
                                     "batch axis; NetCanvas needs fixed sizes (fix them with "
                                     "onnx.tools.update_model_dims)")
            params = {"shape": [int(d) for d in (dims[1:] if batched else dims)]}
            if not batched:
                params["batched"] = False
            if several:
                params["source"] = inp.name
            node_id = self._fresh(inp.name)
            self.net.add_node("Input", params, node_id=node_id)
            self.names[node_id] = inp.name
            self.ports[inp.name] = Port(node_id)

    def _outputs(self) -> None:
        for name in self.graph.outputs:
            if name not in self.ports:
                if not self.problems:  # else it is downstream of what they name
                    self.problems.append(f"output '{name}': not a tensor NetCanvas computes")
                continue
            node_id = self._fresh(name)
            self.net.add_node("Output", node_id=node_id)
            self.names[node_id] = name
            self._wire(self.ports[name], node_id, "in")

    def _unit(self, unit: Unit) -> None:
        from engine.onnx_rules import COMPOSITES, OPS, make

        if any(i not in self.ports for i in unit.inputs):
            # Downstream of an operator already reported nothing can be wired, but
            # whether this one has a block is still worth knowing: the list is whole.
            if unit.cls not in COMPOSITES and unit.nodes[0].op_type not in OPS:
                raise Unmappable("no block computes it")
            return
        made = make(unit, self)
        if made is None:  # passes its input through (Identity, Dropout at inference)
            for out in unit.outputs or unit.nodes[0].output:
                self.ports[out] = self.ports[unit.inputs[0]]
            return
        self._add(unit, made)

    def _add(self, unit: Unit, made: Made) -> None:
        from engine.blocks import get_block

        spec = get_block(made.block)
        defaults = spec.defaults()
        params = {k: v for k, v in made.params.items() if defaults.get(k) != v}
        node_id = self._fresh(unit.scope or made.block.lower())
        self.net.add_node(made.block, params, node_id=node_id)
        for port, value in made.inputs:
            self._wire(value if isinstance(value, Port) else self.ports[value], node_id, port)
        for key, tensor in made.state.items():
            self.state[f"{node_id}.{key}"] = tensor
        outputs = made.outputs or {o: "out" for o in unit.nodes[-1].output if o}
        for absorbed in made.absorbed:
            self.skip.add(id(absorbed))
            outputs.update({o: "out" for o in absorbed.output})
        for value, port in outputs.items():
            self.ports[value] = Port(node_id, port)

    def _wire(self, port: Port, node_id: str, dst: str) -> None:
        self.net.connect(f"{port.node}.{port.port}", f"{node_id}.{dst}")

    def _fresh(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base).strip("_") or "node"
        if base[0].isdigit():
            base = f"n{base}"
        name, i = base, 1
        while name in self.net.nodes:
            name, i = f"{base}_{i}", i + 1
        return name

    def _weights(self) -> dict[str, torch.Tensor]:
        """The recovered tensors over a fresh module's: buffers nobody exports keep theirs."""
        from engine.importer import layer_names

        module = compile_network(self.doc, NETWORK, trained=False)
        attrs = layer_names(module)
        state = dict(module.state_dict())
        for key, tensor in self.state.items():
            node_id, _, rest = key.partition(".")
            full = f"{attrs[node_id]}.{rest}"
            if full not in state or tuple(state[full].shape) != tuple(tensor.shape):
                raise NetCanvasError(f"the weight {key} of the imported {self.label} does not fit "
                                     "its block; this is a NetCanvas bug, please report it")
            state[full] = tensor.to(state[full].dtype).contiguous()
        return state


def _problem(unit: Unit, reason: str) -> str:
    if unit.scope and unit.cls and len(unit.nodes) > 1:
        ops = Counter(n.op_type for n in unit.nodes)
        return f"{unit.scope}: {unit.cls} ({len(unit.nodes)} operators: " \
               f"{', '.join(sorted(ops))}): {reason}"
    node = unit.nodes[0]
    return f"{node.name or node.output[0]}: {node.op_type} ({reason})"


def _check_outputs(doc: Document, graph: Graph, sources: dict[str, str], label: str) -> None:
    """The compiled document must compute what the ONNX model computes, on fresh inputs."""
    from onnx.reference import ReferenceEvaluator

    feeds = graph.example(BATCHES[1], seed=1)
    expected = ReferenceEvaluator(graph.model).run(None, feeds)
    module = compile_network(doc, NETWORK).eval()
    net = doc.network(NETWORK)
    args = [torch.from_numpy(np.array(feeds[sources[i]])) for i in module.meta["inputs"]]
    with torch.no_grad():
        actual = module(*args)
    actual = list(actual) if isinstance(actual, tuple | list) else [actual]
    order = [sources[n] for n in net.topological_order() if net.nodes[n].block == "Output"]
    expected = dict(zip(graph.outputs, expected, strict=True))
    for out, act in zip(order, actual, strict=True):
        exp = expected[out]
        exp = torch.from_numpy(np.array(exp)).to(act.dtype)
        scale = max(1.0, exp.abs().max().item() if exp.numel() else 0.0)
        if exp.shape != act.shape or not torch.allclose(act, exp, rtol=1e-4, atol=1e-4 * scale):
            raise NetCanvasError(f"the imported graph of {label} does not reproduce its output "
                                 f"'{out}'; this is a NetCanvas bug, please report it with the file")

