"""Import: a PyTorch `nn.Module` traced with torch.fx into an editable document.

The module is traced (torch.nn layers stay whole, a person's own sub-modules
are traced through), run once on example inputs to learn every shape
(as torch.fx's `ShapeProp` does), then each traced operation becomes a catalogue
block where one computes the same thing: layers by their settings, functions
such as `F.relu` or `torch.cat` by their arguments, `view`/`reshape` by the
shapes they produce. What has no block is reported all at once, by name, so a
person sees the whole list to rewrite rather than one error at a time.

The module's weights are copied into `doc.weights`, and before returning the
document is compiled and must reproduce the module's outputs, so export after
import gives back the same function.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import operator
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from engine.blocks import get_block
from engine.blocks import modules as custom_layers
from engine.compiler import compile_network, count_parameters, layer_names
from engine.document import Document
from engine.errors import NetCanvasError
from engine.importmap import BATCH, FUNCTIONS, MODULES, Block, Multi, Port, Unmappable, is_tensor

NETWORK = "main"
COLUMN, ROW = 200, 120  # layout spacing on the canvas
GENERIC_NAMES = {"getitem", "view", "reshape", "contiguous"}  # fx names that say nothing
CUSTOM = {name for name, obj in vars(custom_layers).items()
          if isinstance(obj, type) and issubclass(obj, nn.Module)}


class _Tracer(fx.Tracer):
    """Keeps torch.nn layers and the catalogue's own layers (by class name) whole."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__name__ in CUSTOM or super().is_leaf_module(m, qualname)


def import_module(module: nn.Module, input_shapes: dict[str, tuple[int, ...]] | tuple[int, ...],
                  name: str | None = None) -> Document:
    """Trace `module` into a one-network document with its weights.

    `input_shapes` gives each `forward` argument's shape per sample (without
    the batch axis), or one tuple for a single input. Raises NetCanvasError
    listing every operation that has no block.
    """
    cls = type(module).__name__
    was_training = module.training
    try:
        module.train()  # so `F.dropout(x, training=self.training)` is traced as a dropout
        graph = _Tracer().trace(module)
    except Exception as exc:
        raise NetCanvasError(f"torch.fx cannot trace {cls}: {_first_line(exc)}") from exc
    finally:
        module.train(was_training)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    shapes = _shapes_by_input(input_shapes, [p.target for p in placeholders], cls)
    example = tuple(_example(module, p, shapes[p.target]) for p in placeholders)
    module.eval()
    try:
        with torch.no_grad():
            _Shapes(module, graph=graph).run(*example)
            expected = module(*example)
    except Exception as exc:
        raise NetCanvasError(f"running {cls} on inputs of shape {_listed(shapes)} failed: "
                             f"{_first_line(exc)}; check the input shapes") from exc
    finally:
        module.train(was_training)
    doc = Builder(module, graph, cls, shapes).build(name or cls)
    _check_outputs(doc, example, expected, cls)
    return doc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _listed(shapes: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k}: N×" + "×".join(map(str, v)) for k, v in shapes.items())


def _shapes_by_input(given, names: list[str], cls: str) -> dict[str, tuple[int, ...]]:
    if not isinstance(given, dict):
        if len(names) != 1:
            raise NetCanvasError(f"{cls}.forward takes {len(names)} inputs ({', '.join(names)}): "
                                 "give a shape for each by name")
        given = {names[0]: given}
    missing = [n for n in names if n not in given]
    if missing:
        raise NetCanvasError(f"no input shape for {', '.join(missing)} of {cls}.forward")
    return {n: tuple(int(d) for d in given[n]) for n in names}


class _Shapes(fx.Interpreter):
    """Runs the traced graph on the module itself, noting each value's type and shape.

    As torch.fx's ShapeProp, but over the original module: a GraphModule would
    shadow layers named like its own attributes (`code`, `graph`).
    """

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        n.meta["type"] = type(result)
        if isinstance(result, torch.Tensor):
            n.meta["shape"] = tuple(result.shape)
        return result


def _example(module: nn.Module, placeholder: fx.Node, shape: tuple[int, ...]) -> torch.Tensor:
    """Random inputs; integer tokens where the input feeds an embedding."""
    generator = torch.Generator().manual_seed(0)
    for user in placeholder.users:
        if user.op == "call_module" and isinstance(module.get_submodule(user.target), nn.Embedding):
            vocab = module.get_submodule(user.target).num_embeddings
            return torch.randint(0, vocab, (BATCH, *shape), generator=generator)
    return torch.randn((BATCH, *shape), generator=generator)


def _check_outputs(doc: Document, example, expected, cls: str) -> None:
    """The compiled document must compute what the module computes."""
    try:
        compiled = compile_network(doc, NETWORK).eval()
        with torch.no_grad():
            actual = _flat(compiled(*example))
        same = len(actual) == len(_flat(expected)) and all(
            torch.allclose(e, a, rtol=1e-4, atol=1e-5) for e, a in zip(_flat(expected), actual, strict=True))
    except RuntimeError as exc:  # weights that do not fit the blocks built
        raise NetCanvasError(f"the imported graph of {cls} cannot be compiled ({_first_line(exc)}); "
                             "this is a NetCanvas bug, please report it with the module") from exc
    if not same:
        raise NetCanvasError(f"the imported graph of {cls} does not reproduce its outputs; "
                             "this is a NetCanvas bug, please report it with the module")


def _flat(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    return [t for v in value for t in _flat(v)]


# ---- building the document --------------------------------------------------------


class Builder:
    """Walks the traced graph once, turning each operation into blocks and wires."""

    def __init__(self, module: nn.Module, graph: fx.Graph, cls: str,
                 shapes: dict[str, tuple[int, ...]]):
        self.module = module
        self.graph = graph
        self.cls = cls
        self.shapes = shapes
        self.values: dict[fx.Node, Port | Multi] = {}
        self.problems: list[str] = []
        self.doc = Document()
        self.net = self.doc.add_network(NETWORK)
        self.state: dict[str, torch.Tensor] = {}
        self.called: dict[str, str] = {}  # module path -> the node that used it first
        self.failed: set[fx.Node] = set()  # not mapped: what depends on them is not reported

    def build(self, name: str) -> Document:
        self.doc.name = name
        self.doc.description = f"Imported from the PyTorch module {self.cls} (traced with torch.fx)."
        for node in self.graph.nodes:
            try:
                self.visit(node)
            except Unmappable as exc:
                self.failed.add(node)
                self.problems.append(f"{node.name}: {_describe(node)} ({exc})")
        if self.problems:
            raise NetCanvasError(
                f"cannot import {self.cls}: {len(self.problems)} operation(s) have no NetCanvas "
                "block:\n" + "\n".join(f"  - {p}" for p in self.problems))
        self.doc.weights = {NETWORK: self._state_as_compiled()}
        layout(self.net)
        return self.doc

    def _state_as_compiled(self) -> dict[str, torch.Tensor]:
        """Weights keyed as the compiled module names them (`code` is fx's `code_`)."""
        attrs = layer_names(compile_network(self.doc, NETWORK, trained=False))
        state = {}
        for key, tensor in self.state.items():
            node_id, _, rest = key.partition(".")
            state[f"{attrs[node_id]}.{rest}"] = tensor
        return state

    def visit(self, node: fx.Node) -> None:
        """Map one operation; after an unmappable one, still check what follows it.

        Downstream of a failure nothing can be wired, but whether each operation
        has a block is still worth knowing: the error lists every one at once.
        """
        if any(n in self.failed for n in node.all_input_nodes):
            self.failed.add(node)
            if node.op in ("call_module", "call_function", "call_method") and is_tensor(node) \
                    and node.target is not operator.getitem:
                self.mapper(node)  # raises Unmappable for an operation with no block
            return
        if node.op == "placeholder":
            several = len(self.shapes) > 1
            params = {"shape": list(self.shapes[node.target])}
            if several:
                params["source"] = node.target
            self.net.add_node("Input", params, node_id=node.name)
            self.values[node] = Port(node.name)
        elif node.op == "output":
            self.outputs(node.args[0])
        elif node.op == "get_attr":
            raise Unmappable("a tensor used directly, not through a layer")
        elif not is_tensor(node) and node.meta.get("type") is not tuple:
            return  # sizes and other plain values only feed reshapes, read from shapes
        elif node.target is operator.getitem and isinstance(self.values.get(node.args[0]), Multi):
            self.select(node)
        else:
            result = self.mapper(node)
            if result is None:  # a pass-through: nn.Identity, .contiguous(), ...
                self.values[node] = self.value(node.args[0])
            else:
                self.add(node, result)

    def outputs(self, result: Any) -> None:
        results = list(result) if isinstance(result, tuple | list) else [result]
        for i, value in enumerate(results):
            out_id = self._fresh("out" if len(results) == 1 else f"out{i + 1}")
            if not isinstance(value, fx.Node) or not isinstance(self.values.get(value), Port):
                self.problems.append(f"{out_id}: output {i + 1} is not a tensor NetCanvas computes")
                continue
            self.net.add_node("Output", node_id=out_id)
            self.wire(self.values[value], out_id, "in")

    def mapper(self, node: fx.Node) -> Block | None:
        """The block an operation becomes (None: it passes its input through)."""
        if node.op != "call_module":
            rule = FUNCTIONS.get(node.target if node.op == "call_function" else f".{node.target}")
            if rule is None:
                raise Unmappable("no block computes it")
            return rule(node, self)
        module = self.module.get_submodule(node.target)
        if node.target in self.called:
            raise Unmappable(f"the layer is also used by '{self.called[node.target]}'; "
                             "a block cannot share weights")
        self.called[node.target] = node.name
        rule = MODULES.get(type(module).__name__)
        if rule is None:
            raise Unmappable(f"no block for {type(module).__name__}")
        result = rule(module, node, self)
        if result is not None:
            result.state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        return result

    def select(self, node: fx.Node) -> None:
        """`out, (h, c) = lstm(x)`: indexing into a multi-output block picks a port."""
        multi = self.values[node.args[0]]
        if not isinstance(node.args[1], int):
            raise Unmappable("only a fixed index picks an output")
        paths = get_block(multi.block).output_paths
        depth = len(multi.prefix)
        length = 1 + max(p[depth] for p in paths.values() if p[:depth] == multi.prefix and len(p) > depth)
        path = multi.prefix + (node.args[1] % length,)
        ports = [p for p, full in paths.items() if full == path]
        if ports:
            self.values[node] = Port(multi.node, ports[0])
        elif any(full[: len(path)] == path for full in paths.values()):
            self.values[node] = Multi(multi.node, multi.block, path)
        else:
            raise Unmappable(f"{multi.block} has no output at index {path}")

    def add(self, node: fx.Node, result: Block) -> None:
        spec = get_block(result.block)
        defaults = spec.defaults()
        params = {k: v for k, v in result.params.items() if defaults.get(k) != v}
        node_id = node.name
        if node.op != "call_module" and node.name.rstrip("_0123456789") in GENERIC_NAMES:
            node_id = self._fresh(re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", result.block).lower())
        self.net.add_node(result.block, params, node_id=node_id)
        for port, value in result.inputs:
            self.wire(value if isinstance(value, Port) else self.value(value), node_id, port)
        for key, tensor in result.state.items():
            self.state[f"{node_id}.{key}"] = tensor
        self.values[node] = Multi(node_id, result.block) if spec.output_paths else Port(node_id)

    def value(self, arg: Any) -> Port | Multi:
        if not isinstance(arg, fx.Node) or arg not in self.values:
            raise Unmappable(f"its input {arg!r} is not a tensor computed by a block")
        return self.values[arg]

    def wire(self, value: Port | Multi, node_id: str, port: str) -> None:
        if isinstance(value, Multi):
            raise Unmappable(f"uses the whole tuple {value.block} returns; pick one element")
        self.net.connect(f"{value.node}.{value.port}", f"{node_id}.{port}")

    def _fresh(self, base: str) -> str:
        taken = {n.name for n in self.graph.nodes} | set(self.net.nodes)
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        return name

    def shape(self, node: fx.Node) -> tuple[int, ...]:
        return node.meta["shape"]


def _describe(node: fx.Node) -> str:
    if node.op in ("call_module", "get_attr"):
        return f"self.{node.target}"
    if node.op == "call_method":
        return f".{node.target}()"
    module = (getattr(node.target, "__module__", None) or "").lstrip("_")
    return f"{module}.{getattr(node.target, '__name__', node.target)}".lstrip(".")


def layout(network) -> None:
    """Columns by depth from the inputs, the branches of a column stacked and centred."""
    graph = nx.DiGraph(network.graph())
    for column, generation in enumerate(nx.topological_generations(graph)):
        order = [n for n in network.nodes if n in generation]
        for row, node_id in enumerate(order):
            network.move(node_id, (column * COLUMN, (row - (len(order) - 1) / 2) * ROW))


# ---- the CLI ------------------------------------------------------------------------


def load_target(target: str) -> Callable[..., Any]:
    """`path/to/module.py:Name` -> the nn.Module class or factory function of that name."""
    file, sep, name = target.rpartition(":")
    if not sep or not file or not name:
        raise NetCanvasError(f"expected module.py:ClassName, module.py:function or model.onnx, got '{target}'")
    path = Path(file).resolve()
    if not path.is_file():
        raise NetCanvasError(f"no such file: {file}")
    spec = importlib.util.spec_from_file_location(f"netcanvas_import_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # so the file's own sibling imports resolve
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise NetCanvasError(f"{file} fails to import: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.parent))
    obj = getattr(module, name, None)
    is_class = isinstance(obj, type) and issubclass(obj, nn.Module)
    is_factory = inspect.isfunction(obj) and obj.__module__ == spec.name
    if not (is_class or is_factory):
        known = sorted(k for k, v in vars(module).items() if getattr(v, "__module__", None) == spec.name
                       and (inspect.isfunction(v) or isinstance(v, type) and issubclass(v, nn.Module)))
        raise NetCanvasError(f"{file} has no nn.Module class '{name}' (it has: {', '.join(known) or 'none'}); "
                             "a function that returns a module works too")
    return obj


def load_class(target: str) -> type[nn.Module]:
    """`path/to/module.py:ClassName` -> the class, imported from that file."""
    obj = load_target(target)
    if not isinstance(obj, type):
        raise NetCanvasError(f"{target} is a function, not an nn.Module class")
    return obj


def parse_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    """`--args`: a JSON object of keyword arguments, or a JSON list of positional ones."""
    if not text:
        return [], {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetCanvasError(f"--args is not valid JSON ({exc.msg} at column {exc.colno}): {text}") from None
    if isinstance(value, dict):
        return [], value
    if isinstance(value, list):
        return value, {}
    raise NetCanvasError(f'--args must be a JSON object such as {{"hidden": 64}} (or a list), got {text}')


def build_model(factory: Callable[..., Any], args_json: str | None = None) -> nn.Module:
    """Call a module class or factory with the `--args` JSON, checking them against its signature."""
    args, kwargs = parse_args(args_json)
    label = getattr(factory, "__name__", str(factory))
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        named = signature.parameters
        if not any(p.kind is p.VAR_KEYWORD for p in named.values()):
            unknown = [k for k in kwargs if k not in named]
            if unknown:
                raise NetCanvasError(f"{label}{signature} has no argument {', '.join(map(repr, unknown))} "
                                     f"(it takes: {', '.join(named) or 'none'})")
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            how = "with --args" if args or kwargs else "without arguments (give them with --args)"
            raise NetCanvasError(f"{label}{signature} cannot be called {how}: {exc}") from None
    try:
        model = factory(*args, **kwargs)
    except Exception as exc:
        raise NetCanvasError(f"{label}(...) failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise NetCanvasError(f"{label}(...) returned {type(model).__name__}, not an nn.Module")
    return model


def parse_input_shape(text: str) -> dict[str, tuple[int, ...]] | tuple[int, ...]:
    """`1,28,28` for one input; `x=1,28,28;mask=10` names several."""
    def ints(part: str) -> tuple[int, ...]:
        try:
            return tuple(int(v) for v in part.replace("x", ",").split(",") if v.strip())
        except ValueError:
            raise NetCanvasError(f"--input-shape: expected sizes like 1,28,28, got '{part}'") from None

    if "=" not in text:
        return ints(text)
    pairs = [p.split("=", 1) for p in text.split(";") if p.strip()]
    return {k.strip(): ints(v) for k, v in pairs}


def _guess_shape(model: nn.Module) -> tuple[int, ...]:
    first = next((m for m in model.modules() if not list(m.children())), None)
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    raise NetCanvasError("give --input-shape, the per-sample input shape (e.g. 1,28,28)")


def import_target(target: str, input_shape: str | None = None, args_json: str | None = None) -> Document:
    """`model.onnx`, or `module.py:Name` (class or factory) built with `--args` and traced (CLI and GUI)."""
    if target.lower().endswith(".onnx"):
        if input_shape or args_json:
            raise NetCanvasError("--input-shape and --args are for Python modules; an ONNX file "
                                 "carries its own shapes")
        from engine.onnx_import import import_onnx

        return import_onnx(target)
    factory = load_target(target)
    model = build_model(factory, args_json)
    shapes = parse_input_shape(input_shape) if input_shape else _guess_shape(model)
    return import_module(model, shapes)


def run_import(args: argparse.Namespace) -> int:
    """`netcanvas import model.onnx | module.py:Name [--args JSON] [--input-shape S] [--out FILE]`.

    `--out X.json` (the default is `Name.json`) writes the editable graph;
    `--out X.ncz` writes a bundle that also keeps the weights.
    """
    from engine.bundle import save_bundle
    from engine.readwrite import save_document

    doc = import_target(args.target, args.input_shape, getattr(args, "args", None))
    cls_name = Path(args.target).stem if args.target.lower().endswith(".onnx") else args.target.rpartition(":")[2]
    out = Path(args.out or f"{cls_name}.json")
    if out.suffix.lower() == ".ncz":
        save_bundle(doc, None, out)
    else:
        save_document(doc, out)
    params = count_parameters(compile_network(doc, NETWORK))
    blocks = len(doc.network(NETWORK).nodes)
    print(f"imported {cls_name}: {blocks} blocks, {params:,} parameters -> {out}")
    if out.suffix.lower() != ".ncz":
        print("  (the graph only; give --out NAME.ncz to keep the weights too)")
    return 0
