"""Network -> `torch.fx.GraphModule`.

The graph is built node by node in topological order, one submodule per block
named by its node id, so `.code` reads like the `forward` a person would write
and the result scripts, traces, exports to ONNX and runs under `torch.compile`.
"""

from __future__ import annotations

import keyword
import operator
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import torch
from torch import fx, nn

from engine.document import Document, Network
from engine.errors import GraphError
from engine.shapes import NetworkChecker, NetworkReport, dataset_shapes_for


def class_name(network_name: str) -> str:
    """`q_network` -> `QNetwork`: the class name a person would give the module."""
    return "".join(part.capitalize() for part in network_name.split("_")) or "Network"


@cache
def _reserved_names() -> frozenset[str]:
    """Names a submodule or a forward() argument cannot take without breaking the module."""
    taken = set(dir(fx.GraphModule(nn.Module(), fx.Graph()))) | set(vars(nn.Module()))
    return frozenset(taken | set(keyword.kwlist) | {"self"})


def attribute_names(node_ids) -> dict[str, str]:
    """Node id -> the attribute (and argument) name it gets in the compiled module.

    It is the node id itself, except for ids that would break the generated code
    (`self`, `class`, `training`, `forward`, ...), which get a trailing `_`, and
    characters outside `[A-Za-z0-9_]` (an id read with a trailing newline), which
    become `_`.
    """
    taken = set(node_ids)
    reserved = _reserved_names()
    names = {}
    for node_id in node_ids:
        name = re.sub(r"[^0-9A-Za-z_]", "_", node_id)
        name = name if name and not name[0].isdigit() else f"_{name}"
        while name in reserved or (name != node_id and name in taken):
            name += "_"
        taken.add(name)
        names[node_id] = name
    return names


def checked_network(doc: Document, name: str = "main") -> NetworkReport:
    """The network's report, raising GraphError with every error when it has any."""
    network = doc.network(name)
    checker = NetworkChecker(network, dataset_shapes_for(doc))
    report = checker.report()
    checker.close()
    if not report.ok:
        raise GraphError(
            f"network '{name}' has errors:\n" + "\n".join(f"  {e}" for e in report.errors)
        )
    return report


def compile_network(doc: Document, name: str = "main", trained: bool = True) -> fx.GraphModule:
    """Build a trainable module for network `name`; refuses a graph with errors.

    With `trained`, weights the document carries (from a run or a bundle) are loaded.
    The check report is kept in `module.meta["report"]` (see `network_report`).
    """
    report = checked_network(doc, name)
    module = build_graph_module(doc.network(name), report, class_name(name))
    if trained and name in doc.weights:
        module.load_state_dict(doc.weights[name])
    return module


def build_graph_module(network: Network, report: NetworkReport, cls: str,
                       overrides: Mapping[str, Mapping[str, Any]] | None = None,
                       ports: Sequence[str] = ()) -> fx.GraphModule:
    """The GraphModule of a checked network (a document's, or a composite's definition).

    `overrides` (node id -> params) are a composite use's exposed values; `ports`
    are Input node ids whose arguments come first in that order (a composite's
    input ports), where a network's own inputs follow the wiring order.
    """
    graph, root = fx.Graph(), nn.Module()
    values: dict[tuple[str, str], fx.Node] = {}
    outputs: list[fx.Node] = []
    names = attribute_names(network.nodes)
    for port in ports:
        _placeholder(graph, values, port, names[port])
    for node_id in network.topological_order():
        node = network.nodes[node_id]
        if node.block == "Input":
            if node_id not in ports:
                _placeholder(graph, values, node_id, names[node_id])
        elif node.block == "Output":
            edge = network.incoming(node_id)["in"]
            outputs.append(values[(edge.src, edge.src_port)])
        else:
            params = node.spec.resolve({**node.params, **(overrides or {}).get(node_id, {})})
            root.add_module(names[node_id], node.spec.build(params, report.nodes[node_id].inputs))
            _call(graph, network, node_id, names[node_id], values)
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    module = fx.GraphModule(root, graph, class_name=cls)
    module.graph.lint()
    # node id -> submodule name, for hooks on a node (the same but for reserved words)
    module.meta["submodules"] = {n: a for n, a in names.items() if a in root._modules}
    # the Input node ids in forward()'s argument order
    module.meta["inputs"] = [n.meta["node_id"] for n in module.graph.nodes if n.op == "placeholder"]
    # the shapes this module was built from: exporters and trainers read them here
    # instead of checking the same network again
    module.meta["report"] = report
    return module


def _placeholder(graph: fx.Graph, values: dict, node_id: str, attr: str) -> None:
    values[(node_id, "out")] = graph.placeholder(attr)
    values[(node_id, "out")].meta["node_id"] = node_id


def _call(graph: fx.Graph, network: Network, node_id: str, attr: str, values: dict) -> None:
    """The call of node `node_id`'s submodule, and a getitem per output port it feeds."""
    spec = network.nodes[node_id].spec
    incoming = network.incoming(node_id)
    args = []
    for port in spec.input_names(set(incoming)):
        source = port
        while source not in incoming:  # an optional port takes its fallback's value
            source = spec.input_port(source).fallback
        edge = incoming[source]
        args.append(values[(edge.src, edge.src_port)])
    call = graph.create_node("call_module", attr,
                             ([*args],) if spec.variadic else tuple(args), name=attr)
    if not spec.output_paths:
        values[(node_id, "out")] = call
        return
    # One getitem per tuple level, shared by the ports under it: LSTM gives
    # `lstm_out = lstm[0]`, `lstm_h_c = lstm[1]`, `lstm_h = lstm_h_c[0]`.
    used = {e.src_port for e in network.outgoing(node_id)}
    picked: dict[tuple[int, ...], fx.Node] = {(): call}
    for port, path in spec.output_paths.items():
        if port not in used:
            continue
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            if prefix not in picked:
                under = [p for p, q in spec.output_paths.items() if q[:depth] == prefix]
                picked[prefix] = graph.create_node(
                    "call_function", operator.getitem, (picked[path[:depth - 1]], path[depth - 1]),
                    name=f"{attr}_{'_'.join(under)}")
        values[(node_id, port)] = picked[path]


def layer_names(module: fx.GraphModule) -> dict[str, str]:
    """Node id -> submodule name in a module `compile_network` built.

    They are equal except for ids Python or GraphModule reserve (`class`,
    `code`): the compiler renames those submodules (`code_`), and the
    state_dict keys follow.
    """
    return dict(module.meta["submodules"])


def network_report(module: fx.GraphModule) -> NetworkReport:
    """The check report (shapes per node) a module `compile_network` built was made from."""
    return module.meta["report"]


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
