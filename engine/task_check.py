"""Checking knows the task: each network's output against what the loss and the data need.

Shape inference alone says a network is consistent; it cannot know that a
digits classifier must end in 10 scores, or that a Q-network needs one value
per action. This pass reads the task, the loss and the dataset's facts (class
count, target shape, actions: declared by most datasets, cached otherwise) and
puts an error on the network's Output when its shape is not what training
will feed the loss, with the quick fixes (engine/fixes.py) that repair it. A
fix is offered only after it was tried on a copy of the network and made the
error go away, so the button never lies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.blocks.base import Shape, fmt_shape
from engine.document import Document, Network
from engine.fixes import Fix, Operation, apply_operation, insert_before, set_param
from engine.shapes import NetworkChecker, NetworkReport

CLASS_LOSSES = ("cross_entropy", "nll")
DEFAULT_LOSS = {"classification": "cross_entropy", "sequence": "cross_entropy"}
# Blocks that leave the shape as it is: the width was set further up.
PASS_THROUGH = {"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Step", "Softmax", "LogSoftmax",
                "Dropout", "BatchNorm1d", "LayerNorm"}


@dataclass(frozen=True)
class Need:
    """What a network's first output must be: `shape` exactly, or only its size per sample."""

    shape: Shape
    exact: bool
    why: str

    def met_by(self, got: Shape) -> bool:
        if self.exact:
            return got == self.shape
        return got[:1] == self.shape[:1] and _per_sample(got) == _per_sample(self.shape)


def _per_sample(shape: Shape) -> int:
    return math.prod(d for d in shape[1:] if d is not None) if shape and shape[0] is None \
        else math.prod(d for d in shape if d is not None)


def needs(training: dict[str, Any], facts: Any) -> dict[str, Need]:
    """Network name -> what its output must be, for the document's task and dataset."""
    task = training.get("task", "classification")
    loss = str(training.get("loss") or DEFAULT_LOSS.get(task, "mse")).lower()
    classes, target, x = facts.num_classes, facts.target, facts.inputs.get("x")
    if task == "classification" and classes:
        if loss in CLASS_LOSSES:
            return {"main": Need((None, classes), True, f"one score per class; the dataset has {classes} "
                                                       "classes")}
        return {"main": Need((None, 1), False, f"one value per sample for the {loss} loss")}
    if task == "sequence" and target is not None:
        if loss in CLASS_LOSSES and classes:
            return {"main": Need(target + (classes,), True,
                                 f"one score per token for each target step ({classes} tokens)")}
        return {"main": Need(target, False, "the target's shape")}
    if task == "regression" and target is not None:
        return {"main": Need(target, False, "the target's shape")}
    if task == "autoencoder" and x is not None:
        return {"main": Need(x, False, "the input's shape, to rebuild it")}
    if task in ("dqn", "q_learning") and facts.num_actions:
        name = "q_network" if task == "dqn" else "main"
        return {name: Need((None, facts.num_actions), True,
                           f"one value per action ({facts.num_actions} actions)")}
    if task == "gan" and x is not None:
        return {"discriminator": Need((None, 1), False, "a single real/fake score per sample"),
                "generator": Need(x, False, "one sample shaped like the data")}
    if task == "node_classification" and classes and facts.nodes:
        return {"main": Need((facts.nodes, classes), True,
                             f"one row of {classes} class scores per node ({facts.nodes} nodes)")}
    return {}


def expectation(doc: Document, network: str) -> str | None:
    """What training will feed network `network`'s output to, in words, or None.

    "cross_entropy expects N×10 here for digits: one score per class; …" (the Output
    block's inspector shows it). Reads the cached dataset facts; None when unknown.
    """
    from engine.data import data_folder, dataset_facts
    from engine.errors import NetCanvasError

    try:
        facts = dataset_facts(doc.training, data_folder(doc))
    except NetCanvasError:
        return None
    need = needs(doc.training, facts).get(network) if facts is not None else None
    if need is None:
        return None
    task = doc.training.get("task", "classification")
    loss = str(doc.training.get("loss") or DEFAULT_LOSS.get(task, task))
    wanted = fmt_shape(need.shape) if need.exact else f"{_per_sample(need.shape)} values per sample"
    return f"{loss} expects {wanted} for {doc.training['dataset']}: {need.why}"


def first_output(network: Network) -> str | None:
    """The Output whose value the trainer reads (the first in the compiled tuple)."""
    return next((n for n in network.topological_order() if network.nodes[n].block == "Output"),
                None)


def check_task(doc: Document, reports: dict[str, NetworkReport]) -> list[str]:
    """Add output errors and fixes to `reports`; returns problems of the document as a whole.

    `reports` may come from `check()` or from long-lived `NetworkChecker`s (the editor
    calls this after each incremental pass): the checkers' own records are not changed.
    """
    if "dataset" not in doc.training:
        return []
    from engine.data import data_folder, dataset_facts  # the data package imports heavier modules
    from engine.errors import NetCanvasError

    try:
        facts = dataset_facts(doc.training, data_folder(doc))
    except NetCanvasError as exc:
        known = {e for r in reports.values() for n in r.nodes.values() for e in n.errors}
        return [] if str(exc) in known else [f"training.dataset: {exc}"]
    if facts is None:
        return []
    for name, need in needs(doc.training, facts).items():
        if name in reports and name in doc.networks:
            _check_network(doc, doc.networks[name], reports[name], need)
    return []


def _output_error(network: Network, report: NetworkReport, need: Need) -> tuple[str, Shape] | None:
    """(Output id, shape it gets) when the network's output misses `need`, else None."""
    if not report.ok:
        return None  # a shape error upstream is reported there; the output shape means nothing
    output = first_output(network)
    got = report.nodes[output].inputs.get("in") if output else None
    if got is None or need.met_by(got):
        return None
    return output, got


def _check_network(doc: Document, network: Network, report: NetworkReport, need: Need) -> None:
    found = _output_error(network, report, need)
    if found is None:
        return
    output, got = found
    wanted = fmt_shape(need.shape) if need.exact else f"{_per_sample(need.shape)} values per sample"
    error = f"training needs {wanted} here ({need.why}), but the network gives {fmt_shape(got)}"
    lookup = _lookup(doc)
    fixes = [fix for fix in _candidates(network, report, output, got, need)
             if _works(network, fix, need, lookup)][:2]
    # A copy: an incremental NetworkChecker keeps the node's report for its next pass.
    node = report.nodes[output]
    report.nodes[output] = replace(node, errors=[*node.errors, error], fixes=[*node.fixes, *fixes])


def _lookup(doc: Document) -> Callable[[], Any]:
    from engine.shapes import dataset_shapes_for

    return dataset_shapes_for(doc)


# ---- quick fixes ----------------------------------------------------------------


def _producer(network: Network, node_id: str) -> str | None:
    """The block upstream of `node_id`'s input that set the last axis (skipping activations)."""
    edge = network.incoming(node_id).get("in")
    while edge is not None:
        block = network.nodes[edge.src].block
        if block not in PASS_THROUGH:
            return edge.src
        edge = network.incoming(edge.src).get("in")
    return None


def _chain_linears(network: Network, node_id: str) -> list[str]:
    """The Linear blocks on the single-input chain up from `node_id`, nearest first."""
    found = []
    edge = network.incoming(node_id).get("in")
    while edge is not None:
        if network.nodes[edge.src].block == "Linear":
            found.append(edge.src)
        edge = network.incoming(edge.src).get("in")
    return found


def _candidates(network: Network, report: NetworkReport, output: str, got: Shape,
                need: Need) -> list[Fix]:
    """Repairs worth trying, most targeted first; `_works` keeps those that really work."""
    name, width = network.name, need.shape[-1] if need.exact else _per_sample(need.shape)
    producer = _producer(network, output)
    fixes: list[Fix] = []
    widthed = producer and network.nodes[producer].block in ("Linear", "GraphConv")
    if widthed:
        fixes.append(Fix(f"Set {producer}.out_features to {width}",
                         (set_param(name, producer, "out_features", width),)))
    if len(got) > len(need.shape) and need.shape[:1] == (None,):
        linears = [n for n in _chain_linears(network, output)
                   if len(report.nodes[n].inputs.get("in", ())) > len(need.shape)]
        if linears:
            first = linears[-1]  # flatten once, before the first Linear that saw too many axes
            ops: tuple[Operation, ...] = (insert_before(name, first, "Flatten"),)
            if widthed:
                ops += (set_param(name, producer, "out_features", width),)
            fixes.append(Fix(f"Insert Flatten before {first}", ops[:1]))
            fixes.append(Fix(f"Insert Flatten before {first} and set {producer}.out_features to "
                             f"{width}", ops))
        fixes.append(Fix(f"Insert Flatten and Linear({width}) before {output}",
                         (insert_before(name, output, "Flatten"),
                          insert_before(name, output, "Linear", {"out_features": width}))))
    if need.shape[:1] == (None,) and _per_sample(got) == _per_sample(need.shape) \
            and len(need.shape) > 1:
        target = list(need.shape[1:])
        fixes.append(Fix(f"Insert Reshape to {fmt_shape(need.shape)} before {output}",
                         (insert_before(name, output, "Reshape", {"shape": target}),)))
    if len(got) == len(need.shape) == 2 and not widthed:
        fixes.append(Fix(f"Insert Linear({width}) before {output}",
                         (insert_before(name, output, "Linear", {"out_features": width}),)))
    return fixes


def _works(network: Network, fix: Fix, need: Need, lookup: Callable[[], Any]) -> bool:
    """Apply `fix` to a copy of the network and see the output meet `need` with no error."""
    trial = clone(network)
    try:
        for op in fix.operations:
            apply_operation(trial, op)
    except Exception:  # noqa: BLE001  a candidate that cannot even be applied is not offered
        return False
    checker = NetworkChecker(trial, lookup)
    report = checker.report()
    checker.close()
    return _output_error(trial, report, need) is None and report.ok


def clone(network: Network) -> Network:
    """A detached copy of the nodes and wires (no observers), to try edits on."""
    copy = Network(network.name)
    for node in network.nodes.values():
        copy.add_node(node.block, dict(node.params), node.pos, node.id)
    for edge in network.edges:
        copy.add_edge(edge)
    return copy


__all__ = ["Need", "check_task", "clone", "expectation", "first_output", "needs"]
