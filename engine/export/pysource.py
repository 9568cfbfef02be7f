"""PyTorch source export: a `model.py` a person could have written, and its weights.

The folder holds `model.py` (one `nn.Module` class per network, named as the
compiler names it, `main` -> `Main`, `q_network` -> `QNetwork`) and
`state_dict.pt`. With one network `state_dict.pt` is that module's
state_dict; with several it maps each network name to its state_dict, so the
folder keeps the same two files whatever the document holds. Both load with
`torch.load(..., weights_only=True)`.

`model.py` imports only torch (and `math`/`typing` where a copied layer needs
them). Layers are attributes named by node id (`self.add_module("class", ...)`
for a keyword, `forward_` for a name `nn.Module` owns; every name and literal
goes through `pynames.py`, so any document that checks gives valid code);
`forward` walks the graph in the
compiler's order with one line per block, unpacking multi-output layers as
people do (`lstm, (lstm_h, lstm_c) = self.lstm(x)`) and writing merges as
operators (`add = conv2 + x`). The layers `torch.nn` lacks are copied from
`engine/blocks/modules.py` with `inspect.getsource`, only those used.

Constructor calls are read back from the built modules (their `__init__`
signature and the attributes of the same names), so a block added to the
catalogue later exports without touching this file; before anything is
written the source is executed and must reproduce every network bit for bit.
"""

from __future__ import annotations

import builtins
import inspect
import io
import os
import textwrap
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from engine.blocks import modules as custom_layers
from engine.blocks.base import Shape
from engine.composites import is_composite
from engine.composites.spec import overrides_for
from engine.document import Document, Network
from engine.errors import NetCanvasError
from engine.export import Exported
from engine.export.preparation import CHECK_BATCH, Prepared, as_tuple, max_difference, prepare
from engine.export.pyconstructors import REQUIRED
from engine.export.pynames import (
    RESERVED,
    Names,
    assign_layer,
    class_names,
    docstring_text,
    layer_attributes,
    literal,
    quoted,
    read_layer,
)
from engine.export.pyplan import ClassPlan, plan_classes
from engine.fileio import atomic_write_bytes


def export_python(doc: Document, folder: str | os.PathLike) -> Exported:
    """Write `model.py` and `state_dict.pt` (checked) and, for supervised tasks, `train.py`."""
    preps = {name: prepare(doc, name) for name in doc.networks}
    copied = {name for name, _ in inspect.getmembers(custom_layers, inspect.isclass)}
    classes = class_names(list(preps), copied)
    source = model_source(doc, preps, classes)
    weights = {name: _state_by_attribute(doc.network(name), p.module) for name, p in preps.items()}
    payload: dict[str, Any] = next(iter(weights.values())) if len(weights) == 1 else weights
    _check(source, preps, classes, weights)
    folder = Path(folder)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(folder / "model.py", source.encode("utf-8"))
    atomic_write_bytes(folder / "state_dict.pt", buffer.getvalue())
    listed = ", ".join(classes.values())
    from engine.training_script import add_training_script  # train.py + data.npz, where they apply

    script = add_training_script(doc, folder)
    return Exported(None, folder, f"model.py ({listed}) reproduces the outputs exactly; {script}")


def _state_by_attribute(network: Network, module: fx.GraphModule) -> dict[str, torch.Tensor]:
    """The state_dict with keys under the attributes model.py names its layers by.

    A composite's copy is walked with its definition: `stage.0.conv1.weight`.
    """
    ours = layer_attributes(list(network.nodes))
    state = {}
    for node_id, compiled in module.meta["submodules"].items():
        sub, spec, prefix = module.get_submodule(compiled), network.nodes[node_id].spec, ours[node_id]
        if not is_composite(spec):
            state.update({f"{prefix}.{k}": v.detach().clone() for k, v in sub.state_dict().items()})
            continue
        copies = [(f"{prefix}.{i}", c) for i, c in enumerate(sub)] if isinstance(sub, nn.Sequential) \
            else [(prefix, sub)]
        for name, copy in copies:
            inner = _state_by_attribute(spec.composite.definition, copy)
            state.update({f"{name}.{k}": v for k, v in inner.items()})
    return state


def _check(source: str, preps: dict[str, Prepared], classes: dict[str, str],
           weights: dict[str, dict[str, torch.Tensor]]) -> None:
    """Run the generated code: a mismatch is a bug here, never a file on disk."""
    namespace: dict[str, Any] = {"__name__": "netcanvas_exported_model"}
    exec(compile(source, "model.py", "exec"), namespace)  # noqa: S102 - our own generated code
    for network, prep in preps.items():
        model = namespace[classes[network]]()
        model.load_state_dict(weights[network])
        model.eval()
        example = prep.example(CHECK_BATCH, seed=1)
        with torch.no_grad():
            expected, actual = as_tuple(prep.module(*example)), as_tuple(model(*example))
        if len(expected) != len(actual) or max_difference(expected, actual) != 0:
            raise NetCanvasError(f"the generated model.py does not reproduce network "
                                 f"'{network}'; export it as TorchScript instead")


# ---- the file ---------------------------------------------------------------------


def model_source(doc: Document, preps: dict[str, Prepared], classes: dict[str, str]) -> str:
    """The text of `model.py` for the prepared networks: composites' classes first."""
    copied_names = {name for name, _ in inspect.getmembers(custom_layers, inspect.isclass)}
    composites, plans = plan_classes({n: p.module for n, p in preps.items()}, classes,
                                     {n: doc.network(n) for n in preps},
                                     copied_names | RESERVED | set(dir(builtins)))
    bodies = [class_source(plan, docstring_text(plan.network.doc or f"The composite block "
                                                f"{plan.network.name}.")) for plan in composites]
    bodies += [class_source(plans[name], _summary(prep)) for name, prep in preps.items()]
    merges = {custom_layers.Add, custom_layers.Multiply, custom_layers.Concat}  # written as operators
    used = {type(m) for p in preps.values() for m in p.module.modules()
            if type(m).__module__ == custom_layers.__name__} - merges
    copied = [inspect.getsource(cls).rstrip() for cls in
              sorted(used, key=lambda c: inspect.getsourcelines(c)[1])]
    body = "\n\n\n".join(copied + bodies)
    stdlib = ["import math"] if "math." in body else []
    stdlib += ["from typing import List"] if "List[" in body else []
    third = ["import torch"] if "torch." in body else []
    third.append("from torch import Tensor, nn" if "Tensor" in body else "from torch import nn")
    imports = "\n\n".join("\n".join(group) for group in (stdlib, third) if group)
    return f"{_docstring(doc, classes)}\n\n{imports}\n\n\n{body}\n"


def _docstring(doc: Document, classes: dict[str, str]) -> str:
    lines = [f"{doc.name or 'Model'}: PyTorch modules exported by NetCanvas.", "",
             "Needs only PyTorch. To run it with the trained weights:", "",
             "    import torch", f"    from model import {', '.join(classes.values())}", ""]
    if len(classes) == 1:
        (cls,) = classes.values()
        lines += [f"    model = {cls}()",
                  '    model.load_state_dict(torch.load("state_dict.pt", weights_only=True))',
                  "    model.eval()"]
    else:
        lines.append('    state = torch.load("state_dict.pt", weights_only=True)  # network -> state_dict')
        names = Names(set(classes.values()))
        for network, cls in classes.items():
            name = names.fresh(network)
            lines += [f"    {name} = {cls}()", f"    {name}.load_state_dict(state[{quoted(network)}])"]
    return '"""' + "\n".join(docstring_text(line) for line in lines) + '\n"""'


def class_source(plan: ClassPlan, summary: str) -> str:
    """One `nn.Module` class: layers in `__init__`, the wiring in `forward`."""
    net = plan.network
    first = plan.instances[0]
    overrides = overrides_for(net, first.params) if first.params is not None else {}
    names = Names()
    attributes = layer_attributes(list(net.nodes))
    inputs = list(first.module.meta["inputs"])
    values = {(i, "out"): names.fresh(i) for i in inputs}  # (node, port) -> variable
    init, forward, returns = [], [], []
    for node_id in net.topological_order():
        node = net.nodes[node_id]
        incoming = net.incoming(node_id)
        if node.block == "Output":
            returns.append(values[(incoming["in"].src, incoming["in"].src_port)])
        if node.block in ("Input", "Output"):
            continue
        args = _arguments(node.spec, incoming, values)
        target = _name_outputs(node_id, node.spec, {e.src_port for e in net.outgoing(node_id)},
                               values, names)
        params = node.spec.resolve({**node.params, **overrides.get(node_id, {})})
        call = _call(node.block, attributes[node_id], params, args)
        if node_id in plan.layers:
            init.append(assign_layer(attributes[node_id], plan.layers[node_id]))
        shape = _common_shape(plan, node_id)
        forward.append(f"{target} = {call}" + (f"  # {_shape(shape)}" if shape else ""))
    signature = ", ".join(["self"] + [values[(i, "out")] for i in inputs])
    init_signature = ", ".join(["self"] + [name if default is REQUIRED else f"{name}={literal(default)}"
                                           for name, default in plan.signature()])
    lines = [f"class {plan.name}(nn.Module):", *_docstring_lines(summary), "",
             f"    def __init__({init_signature}):", "        super().__init__()"]
    lines += [text for line in init for text in _wrapped(line, "        ")]
    lines += ["", f"    def forward({signature}):"] + [f"        {line}" for line in forward]
    lines.append(f"        return {', '.join(returns)}")
    return "\n".join(lines)


def _wrapped(line: str, indent: str, width: int = 120) -> list[str]:
    """`line` indented; a call too long for one line gets one argument per line, and a
    conditional (`Block() if depth == 1 else nn.Sequential(...)`) one branch per line."""
    if len(indent + line) <= width or "(" not in line:
        return [indent + line]
    opening = line.index("(")
    splits = _top_level(line, opening + 1, ",")
    if splits and splits[-1] == len(line) - 1:  # one call spans the line: split its arguments
        bounds = [opening, *splits]
        return [f"{indent}{line[:opening + 1]}",
                *(f"{indent}    {line[a + 1:b].strip()}," for a, b in zip(bounds, bounds[1:], strict=False)),
                f"{indent})"]
    target, _, value = line.partition(" = ")
    branch = _top_level(value, 0, " else ")
    if len(branch) != 1:
        return [indent + line]
    return [f"{indent}{target} = (", f"{indent}    {value[:branch[0]]}",
            f"{indent}    else {value[branch[0] + 6:]}", f"{indent})"]


def _top_level(text: str, start: int, separator: str) -> list[int]:
    """Where `separator` occurs in `text[start:]` outside brackets and string literals,
    ending with the index of the bracket that closes the level `start` is in (if any)."""
    found, depth, quote = [], 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return [*found, i]
        elif depth == 0 and text.startswith(separator, i):
            found.append(i)
    return found


def _docstring_lines(text: str) -> list[str]:
    """A class docstring on one line, or wrapped when it is long (a composite's doc)."""
    if len(text) <= 110:
        return [f'    """{text}"""']
    wrapped = textwrap.wrap(text, 100, break_long_words=False, break_on_hyphens=False)
    return [f'    """{wrapped[0]}', *(f"    {line}" for line in wrapped[1:]), '    """']


def _common_shape(plan: ClassPlan, node_id: str) -> Shape | None:
    """The node's output shape for the comment, when every use of the class has the same."""
    shapes = {inst.module.meta["report"].nodes[node_id].outputs.get("out") for inst in plan.instances}
    return shapes.pop() if len(shapes) == 1 else None


def _arguments(spec, incoming: dict, values: dict[tuple[str, str], str]) -> list[str]:
    """The variables fed to each input port, as the compiler passes them."""
    args = []
    for port in spec.input_names(set(incoming)):
        while port not in incoming:  # an unwired optional port takes its fallback's value
            port = spec.input_port(port).fallback
        args.append(values[(incoming[port].src, incoming[port].src_port)])
    return args


def _name_outputs(node_id: str, spec, used: set[str], values: dict[tuple[str, str], str],
                  names: Names) -> str:
    """Name the node's `out` and its other used outputs; return the assignment target."""
    ports = [p for p in spec.output_names() if p == "out" or p in used] if spec.output_paths else ["out"]
    for port in ports:
        values[(node_id, port)] = names.fresh(node_id if port == "out" else f"{node_id}_{port}")
    return _unpack(spec.output_paths, {p: values[(node_id, p)] for p in ports}, used)


def _summary(prep: Prepared) -> str:
    inputs = ", ".join(f"{i} {_shape(prep.shapes[i])}" for i in prep.inputs)
    outputs = ", ".join(
        f"{o} {_shape(prep.report.nodes[o].inputs.get('in', ()))}" for o in prep.outputs)
    return docstring_text(f"Network '{prep.name}': {inputs} -> {outputs}.")


def _shape(shape: Shape) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def _call(block: str, attr: str, params: dict[str, Any], args: list[str]) -> str:
    """The forward expression for a node: merges as operators, layers as calls."""
    if block == "Add":
        return " + ".join(args)
    if block == "Multiply":
        return " * ".join(args)
    if block == "Concat":
        return f"torch.cat([{', '.join(args)}], dim={params['dim']})"
    return f"{read_layer(attr)}({', '.join(args)})"


def _unpack(paths: dict[str, tuple[int, ...]], names: dict[str, str], used: set[str]) -> str:
    """`lstm, (lstm_h, _)` for a module returning nested tuples; `_` where unused."""
    if not paths:
        return names["out"]
    tree: dict = {}
    for port, path in paths.items():
        level = tree
        for index in path[:-1]:
            level = level.setdefault(index, {})
        level[path[-1]] = names[port] if port in used or port == "out" else "_"

    def render(level: dict, top: bool) -> str:
        parts = [render(v, False) if isinstance(v, dict) else v
                 for _, v in sorted(level.items())]
        if all(p == "_" for p in parts):
            return "_"
        return ", ".join(parts) if top else f"({', '.join(parts)})"

    return render(tree, True)
