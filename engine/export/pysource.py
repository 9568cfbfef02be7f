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

import inspect
import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.blocks import modules as custom_layers
from engine.blocks.base import Shape
from engine.document import Document
from engine.errors import NetCanvasError
from engine.export import Exported
from engine.export.preparation import CHECK_BATCH, Prepared, as_tuple, max_difference, prepare
from engine.export.pynames import (
    Names,
    assign_layer,
    class_names,
    docstring_text,
    layer_attributes,
    literal,
    quoted,
    read_layer,
)
from engine.fileio import atomic_write_bytes

REQUIRED = inspect.Parameter.empty


def export_python(doc: Document, folder: str | os.PathLike) -> Exported:
    """Write `model.py` and `state_dict.pt` (checked) and, for supervised tasks, `train.py`."""
    preps = {name: prepare(doc, name) for name in doc.networks}
    classes = class_names(list(preps), {name for name, _ in inspect.getmembers(custom_layers,
                                                                               inspect.isclass)})
    source = model_source(doc, preps, classes)
    weights = {name: _state_by_attribute(doc, p) for name, p in preps.items()}
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


def _state_by_attribute(doc: Document, prep: Prepared) -> dict[str, torch.Tensor]:
    """The state_dict with keys under the attributes model.py names its layers by."""
    ours = layer_attributes(list(doc.network(prep.name).nodes))
    renamed = {compiled: ours[node_id] for node_id, compiled in prep.layers.items()}
    state = {}
    for key, value in prep.module.state_dict().items():
        attr, _, rest = key.partition(".")
        state[f"{renamed.get(attr, attr)}.{rest}"] = value.detach().clone()
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
    """The text of `model.py` for the prepared networks."""
    bodies = [network_class(doc, prep, classes[name]) for name, prep in preps.items()]
    used = {type(m) for p in preps.values() for m in p.module.modules()
            if type(m).__module__ == custom_layers.__name__}
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


def network_class(doc: Document, prep: Prepared, cls: str) -> str:
    """One `nn.Module` class: layers in `__init__`, the wiring in `forward`."""
    net = doc.network(prep.name)
    names = Names()
    attributes = layer_attributes(list(net.nodes))
    values = {(i, "out"): names.fresh(i) for i in prep.inputs}  # (node, port) -> variable
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
        call, layer = _call(node.block, attributes[node_id], node.resolved_params(), args,
                            prep.module.get_submodule(prep.layers[node_id]))
        if layer:
            init.append(assign_layer(attributes[node_id], layer))
        shape = prep.report.nodes[node_id].outputs.get("out")
        forward.append(f"{target} = {call}" + (f"  # {_shape(shape)}" if shape else ""))
    signature = ", ".join(["self"] + [values[(i, "out")] for i in prep.inputs])
    lines = [f"class {cls}(nn.Module):", f'    """{_summary(net, prep)}"""', "",
             "    def __init__(self):", "        super().__init__()"]
    lines += [f"        {line}" for line in init]
    lines += ["", f"    def forward({signature}):"] + [f"        {line}" for line in forward]
    lines.append(f"        return {', '.join(returns)}")
    return "\n".join(lines)


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


def _summary(net, prep: Prepared) -> str:
    inputs = ", ".join(f"{i} {_shape(prep.shapes[i])}" for i in prep.inputs)
    outputs = ", ".join(
        f"{o} {_shape(prep.report.nodes[o].inputs.get('in', ()))}" for o in prep.outputs)
    return docstring_text(f"Network '{prep.name}': {inputs} -> {outputs}.")


def _shape(shape: Shape) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def _call(block: str, attr: str, params: dict[str, Any], args: list[str],
          module: nn.Module) -> tuple[str, str | None]:
    """The forward expression for a node, and its layer constructor (None for merges)."""
    if block == "Add":
        return " + ".join(args), None
    if block == "Multiply":
        return " * ".join(args), None
    if block == "Concat":
        return f"torch.cat([{', '.join(args)}], dim={params['dim']})", None
    return f"{read_layer(attr)}({', '.join(args)})", constructor(module)


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


# ---- constructors -------------------------------------------------------------------


def constructor(module: nn.Module) -> str:
    """`nn.Conv2d(1, 20, 5)`: the call that builds `module`, defaults left out."""
    cls = type(module)
    if cls.__module__ == custom_layers.__name__:
        prefix = ""
    elif getattr(nn, cls.__name__, None) is cls:
        prefix = "nn."
    else:
        raise NetCanvasError(f"cannot write PyTorch source for a {cls.__module__}.{cls.__name__} layer")
    special = SPECIAL.get(cls.__name__)
    arguments = special(module) if special else _from_signature(module)
    rendered = [literal(value) if default is REQUIRED else f"{name}={literal(value)}"
                for name, value, default in arguments if default is REQUIRED or value != default]
    return f"{prefix}{cls.__name__}({', '.join(rendered)})"


Argument = tuple[str, Any, Any]  # name, value, default (REQUIRED: written positionally)


def _from_signature(module: nn.Module) -> list[Argument]:
    """Arguments read back from attributes named like the `__init__` parameters."""
    arguments = []
    for param in inspect.signature(type(module).__init__).parameters.values():
        if (param.name in ("self", "device", "dtype") or param.name.startswith("_")
                or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD)):
            continue
        if not hasattr(module, param.name):
            if param.default is REQUIRED:
                raise NetCanvasError(f"cannot write PyTorch source for {type(module).__name__}: "
                                     f"its '{param.name}' is not readable")
            continue
        value = _plain(getattr(module, param.name), param.name)
        if param.name == "stride" and param.default is None and value == _plain(
                getattr(module, "kernel_size", None), "kernel_size"):
            continue  # pooling: stride defaults to the kernel size
        arguments.append((param.name, value, param.default))
    return arguments


def _plain(value: Any, name: str) -> Any:
    """Attribute values as a person writes them: `5` for `(5, 5)`, `False` for no bias."""
    if name == "bias" and (value is None or isinstance(value, torch.Tensor)):
        return value is not None
    if isinstance(value, torch.Size):
        value = tuple(value)
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _recurrent(module: nn.RNNBase) -> list[Argument]:
    arguments: list[Argument] = [("input_size", module.input_size, REQUIRED),
                                 ("hidden_size", module.hidden_size, REQUIRED),
                                 ("num_layers", module.num_layers, 1)]
    if isinstance(module, nn.RNN):
        arguments.append(("nonlinearity", module.nonlinearity, "tanh"))
    arguments += [("bias", module.bias, True), ("batch_first", module.batch_first, False),
                  ("dropout", float(module.dropout), 0.0),
                  ("bidirectional", module.bidirectional, False)]
    if isinstance(module, nn.LSTM):
        arguments.append(("proj_size", module.proj_size, 0))
    return arguments


def _attention(module: nn.MultiheadAttention) -> list[Argument]:
    return [("embed_dim", module.embed_dim, REQUIRED), ("num_heads", module.num_heads, REQUIRED),
            ("dropout", float(module.dropout), 0.0), ("bias", module.in_proj_bias is not None, True),
            ("add_bias_kv", module.bias_k is not None, False),
            ("add_zero_attn", module.add_zero_attn, False),
            ("kdim", module.kdim, module.embed_dim), ("vdim", module.vdim, module.embed_dim),
            ("batch_first", module.batch_first, False)]


def _encoder_layer(module: nn.TransformerEncoderLayer) -> list[Argument]:
    activation = getattr(module.activation, "__name__", type(module.activation).__name__).lower()
    if activation not in ("relu", "gelu"):
        raise NetCanvasError(f"cannot write PyTorch source for a TransformerEncoderLayer "
                             f"with activation {activation}")
    attention = module.self_attn
    return [("d_model", attention.embed_dim, REQUIRED), ("nhead", attention.num_heads, REQUIRED),
            ("dim_feedforward", module.linear1.out_features, 2048),
            ("dropout", module.dropout.p, 0.1), ("activation", activation, "relu"),
            ("layer_norm_eps", module.norm1.eps, 1e-5),
            ("batch_first", attention.batch_first, False), ("norm_first", module.norm_first, False),
            ("bias", module.linear1.bias is not None, True)]


def _positional(module: custom_layers.PositionalEncoding) -> list[Argument]:
    return [("d_model", module.pe.shape[1], REQUIRED), ("max_len", module.pe.shape[0], 512),
            ("dropout", module.dropout.p, 0.0)]


def _graph_conv(module: custom_layers.GraphConv) -> list[Argument]:
    return [("in_features", module.linear.in_features, REQUIRED),
            ("out_features", module.linear.out_features, REQUIRED),
            ("bias", module.linear.bias is not None, True), ("normalize", module.normalize, True)]


SPECIAL = {"RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
           "MultiheadAttention": _attention, "TransformerEncoderLayer": _encoder_layer,
           "PositionalEncoding": _positional, "GraphConv": _graph_conv}
