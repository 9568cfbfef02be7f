"""Network -> `torch.fx.GraphModule`.

The graph is built node by node in topological order, one submodule per block
named by its node id, so `.code` reads like the `forward` a person would write
and the result scripts, traces, exports to ONNX and runs under `torch.compile`.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn

from engine.document import Document
from engine.errors import GraphError
from engine.shapes import NetworkChecker, NetworkReport, dataset_shapes_for


def class_name(network_name: str) -> str:
    """`q_network` -> `QNetwork`: the class name a person would give the module."""
    return "".join(part.capitalize() for part in network_name.split("_")) or "Network"


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
    """
    report = checked_network(doc, name)
    network = doc.network(name)
    graph = fx.Graph()
    root = nn.Module()
    values: dict[tuple[str, str], fx.Node] = {}
    outputs: list[fx.Node] = []
    used = {(e.src, e.src_port) for e in network.edges}
    for node_id in network.topological_order():
        node = network.nodes[node_id]
        spec = node.spec
        incoming = network.incoming(node_id)
        if spec.name == "Input":
            values[(node_id, "out")] = graph.placeholder(node_id)
            continue
        if spec.name == "Output":
            edge = incoming["in"]
            outputs.append(values[(edge.src, edge.src_port)])
            continue
        node_report = report.nodes[node_id]
        params = node.resolved_params()
        root.add_module(node_id, spec.build(params, node_report.inputs))
        args = []
        for port in spec.input_names(set(incoming)):
            source = port
            while source not in incoming:  # an optional port takes its fallback's value
                source = spec.input_port(source).fallback
            edge = incoming[source]
            args.append(values[(edge.src, edge.src_port)])
        call = graph.call_module(node_id, ([*args],) if spec.variadic else tuple(args))
        if not spec.output_paths:
            values[(node_id, "out")] = call
            continue
        for port, path in spec.output_paths.items():
            if (node_id, port) not in used:
                continue
            value = call
            for depth, index in enumerate(path):
                label = f"{node_id}_{port}" if depth == len(path) - 1 else None
                value = graph.create_node("call_function", operator.getitem, (value, index),
                                          name=label)
            values[(node_id, port)] = value
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    module = fx.GraphModule(root, graph, class_name=class_name(name))
    module.graph.lint()
    if trained and name in doc.weights:
        module.load_state_dict(doc.weights[name])
    return module


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
