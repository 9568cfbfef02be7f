"""Shape inference: the tensor shape on every edge and the errors on every node.

A pass in topological order (as torch.fx's `shape_prop.py`) that asks each
block's declared rule for its output shapes and wraps any failure with the
node id. Results per (block, parameters, input shapes) are memoised, and a
`NetworkChecker` observes one network and re-infers only what an edit can
reach, stopping where shapes come out unchanged: fast enough for every
keystroke in the inspector.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.blocks.base import BlockSpec, Shape, fmt_shape
from engine.composites.model import InnerError
from engine.document import Document, Edge, Network
from engine.errors import NetCanvasError, ShapeError
from engine.param_counts import parameter_count

DatasetShapes = Mapping[str, Shape]


@dataclass
class NodeReport:
    """What checking found for one node."""

    node_id: str
    block: str
    inputs: dict[str, Shape] = field(default_factory=dict)
    outputs: dict[str, Shape] = field(default_factory=dict)
    parameters: int = 0
    macs: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fixes: list[Any] = field(default_factory=list)  # engine.fixes.Fix records for these errors
    # errors inside a composite block, each also one line of `errors` ("inside X: ...")
    inner_errors: list[InnerError] = field(default_factory=list)


@dataclass
class NetworkReport:
    name: str
    nodes: dict[str, NodeReport]
    edges: dict[Edge, Shape]
    problems: list[str] = field(default_factory=list)  # about the network as a whole

    @property
    def errors(self) -> list[str]:
        """Every error as one line that names the node."""
        lines = [f"{self.name}: {p}" for p in self.problems]
        for report in self.nodes.values():
            lines += [f"{self.name}.{report.node_id} ({report.block}): {e}" for e in report.errors]
        return lines

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def parameters(self) -> int:
        return sum(r.parameters for r in self.nodes.values())

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.nodes.values())


@dataclass
class CheckReport:
    networks: dict[str, NetworkReport]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # about the document as a whole

    @property
    def errors(self) -> list[str]:
        return self.problems + [e for net in self.networks.values() for e in net.errors]

    @property
    def ok(self) -> bool:
        return not self.errors


# ---- one block ----------------------------------------------------------------


@dataclass(frozen=True)
class BlockResult:
    outputs: dict[str, Shape]
    error: str | None
    warnings: tuple[str, ...]
    parameters: int
    macs: int
    inner: tuple[InnerError, ...] = ()  # a composite's errors inside, one per inner node


_CACHE: dict[Any, BlockResult] = {}
_CACHE_LIMIT = 20_000


def infer_block(spec: BlockSpec, params: dict[str, Any], inputs: dict[str, Shape]) -> BlockResult:
    """Output shapes, parameter count and multiply-adds of one block, memoised.

    Optional ports that are not wired take their fallback's shape here, so a
    caller passes only what is wired (self-attention wires just `query`).
    """
    inputs = with_fallbacks(spec, inputs)
    # A composite keys on its spec's serial: a definition edit makes a new spec, so a
    # result computed before the edit is never served after it.
    name = spec.name if spec.composite is None else ("composite", spec.composite.serial)
    key = (name, json.dumps(params, sort_keys=True), tuple(sorted(inputs.items())))
    result = _CACHE.get(key)
    if result is None:
        result = _infer_uncached(spec, params, inputs)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = result
    return result


def with_fallbacks(spec: BlockSpec, inputs: dict[str, Shape]) -> dict[str, Shape]:
    """`inputs` plus the shapes of unwired optional ports that fall back to a wired one."""
    filled = inputs
    for port in spec.inputs:  # declaration order, so value -> key -> query chains resolve
        if port.fallback and port.name not in filled and port.fallback in filled:
            if filled is inputs:
                filled = dict(inputs)
            filled[port.name] = filled[port.fallback]
    return filled


def _infer_uncached(spec: BlockSpec, params: dict[str, Any], inputs: dict[str, Shape]) -> BlockResult:
    if spec.composite is not None:
        return spec.composite.check(params, inputs)
    try:
        outputs = spec.infer(params, inputs)
        warnings = tuple(spec.warnings(params, inputs)) if spec.warnings else ()
        count = parameter_count(spec, params, inputs)  # torch-free where a formula exists
        macs = spec.macs(params, inputs, outputs) if spec.macs else 0
        return BlockResult(outputs, None, warnings, count, macs)
    except ShapeError as exc:
        return BlockResult({}, str(exc), (), 0, 0)
    except (ValueError, RuntimeError, AssertionError, TypeError, ZeroDivisionError) as exc:
        # PyTorch refused the configuration while building: say so in its words.
        return BlockResult({}, f"{spec.name} cannot be built with these settings: {exc}", (), 0, 0)


def param_problems(spec: BlockSpec, params: dict[str, Any]) -> list[str]:
    """Unknown names, wrong types and out-of-range values of a node's parameters."""
    problems = []
    for name, value in params.items():
        param = spec.param(name)
        if param is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            problems.append(f"unknown parameter '{name}' (known: {known})")
        elif (problem := param.type_error(value)) is not None:
            problems.append(f"{name}: {problem}")
        elif (problem := param.range_error(value)) is not None:
            problems.append(problem)
    return problems


# ---- one network ----------------------------------------------------------------


class NetworkChecker:
    """Keeps a network's report current, re-inferring only what each edit can reach."""

    def __init__(self, network: Network, dataset_shapes: Callable[[], DatasetShapes],
                 port_shapes: Mapping[str, Shape] | None = None,
                 overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """`port_shapes` (Input node id -> shape) and `overrides` (node id -> params) are
        how a composite's definition is checked for one use (engine/composites)."""
        self.network = network
        self._dataset_shapes = dataset_shapes
        self._port_shapes = dict(port_shapes or {})
        self._overrides = dict(overrides or {})
        self._revision = network.blocks_revision()
        self._reports: dict[str, NodeReport] = {}
        self._dirty: set[str] = set(network.nodes)
        self._order: list[str] | None = None
        self._cycles: dict[str, list[str]] = {}  # node on a cycle -> a cycle through it
        network.param_changed.sub(self._on_param)
        network.node_added.sub(self._on_structure)
        network.node_removed.sub(self._on_structure)
        network.edge_added.sub(self._on_edge)
        network.edge_removed.sub(self._on_edge)

    def close(self) -> None:
        """Stop observing the network."""
        for event, callback in ((self.network.param_changed, self._on_param),
                                (self.network.node_added, self._on_structure),
                                (self.network.node_removed, self._on_structure),
                                (self.network.edge_added, self._on_edge),
                                (self.network.edge_removed, self._on_edge)):
            event.unsub(callback)

    def invalidate(self) -> None:
        """Re-infer everything (the dataset or the training setup changed)."""
        self._dirty = set(self.network.nodes)

    def _on_param(self, node, name) -> None:
        self._dirty.add(node.id)

    def _on_structure(self, node) -> None:
        self._order = None
        self._reports.pop(node.id, None)
        self._dirty.add(node.id)
        self._dirty.update(e.dst for e in self.network.outgoing(node.id))

    def _on_edge(self, edge: Edge) -> None:
        self._order = None
        self._dirty.add(edge.dst)

    def report(self) -> NetworkReport:
        net = self.network
        if self._revision != net.blocks_revision():  # a composite's definition was edited
            self._revision = net.blocks_revision()
            self._dirty.update(n.id for n in net.nodes.values() if _is_composite(n))
        if self._order is None:
            self._compute_order()
        # Nodes on a cycle first: what is downstream must not read their old shapes.
        for node_id, cycle in self._cycles.items():
            report = NodeReport(node_id, net.nodes[node_id].block)
            report.errors.append(f"part of a cycle: {' -> '.join(cycle + cycle[:1])}")
            self._reports[node_id] = report
        dirty = self._dirty
        self._dirty = set()
        if dirty:
            for node_id in self._order:
                if node_id not in dirty:
                    continue
                old = self._reports.get(node_id)
                new = self._check_node(node_id)
                self._reports[node_id] = new
                if old is None or old.outputs != new.outputs:
                    dirty.update(e.dst for e in net.outgoing(node_id))
        reports = {n: self._reports[n] for n in net.nodes}
        edges = {}
        for e in net.edges:
            shape = reports[e.src].outputs.get(e.src_port)
            if shape is not None:
                edges[e] = shape
        return NetworkReport(net.name, reports, edges, self._network_problems())

    def _compute_order(self) -> None:
        net = self.network
        order, left = net.ordered()
        self._cycles = {}
        if left:
            # Downstream of a cycle gets no shapes; order the rest as the file does.
            cyclic = net.cycle_nodes()
            self._cycles = {n: net.cycle_through(n) for n in net.nodes if n in cyclic}
            order, _ = net.ordered(skip=cyclic)
        self._order = order
        self._dirty |= set(net.nodes)

    def _network_problems(self) -> list[str]:
        blocks = [n.block for n in self.network.nodes.values()]
        problems = []
        if "Input" not in blocks:
            problems.append("no Input block: nothing feeds the network")
        if "Output" not in blocks:
            problems.append("no Output block: the network returns nothing")
        return problems

    def _check_node(self, node_id: str) -> NodeReport:
        node = self.network.nodes[node_id]
        try:
            spec = node.spec
        except KeyError as exc:  # a composite whose definition was removed
            return NodeReport(node_id, node.block, errors=[str(exc.args[0])])
        report = NodeReport(node_id, node.block)
        stored = {**node.params, **self._overrides[node_id]} if node_id in self._overrides \
            else node.params
        report.errors += param_problems(spec, stored)
        params = spec.resolve(stored)
        if spec.name == "Input" and node_id in self._port_shapes:
            report.outputs = {"out": self._port_shapes[node_id]}
            return report
        incoming = self.network.incoming(node_id)
        inputs, blocked = {}, False
        for port in spec.input_names(set(incoming)):
            shape = self._incoming_shape(incoming.get(port))
            if shape is not None:
                inputs[port] = shape
            elif port in incoming:
                blocked = True  # upstream has an error; it is reported there
            elif not spec.input_port(port).optional:
                report.errors.append(f"input '{port}' is not connected")
        if blocked:
            return report
        inputs = with_fallbacks(spec, inputs)
        if spec.name == "Input":
            self._add_dataset_shape(params, inputs, report)
        report.inputs = inputs
        if report.errors:
            return report
        _add_result(report, infer_block(spec, params, inputs))
        return report

    def _incoming_shape(self, edge: Edge | None) -> Shape | None:
        if edge is None:
            return None
        upstream = self._reports.get(edge.src)
        return upstream.outputs.get(edge.src_port) if upstream else None

    def _add_dataset_shape(self, params: dict[str, Any], inputs: dict, report: NodeReport) -> None:
        if params["shape"]:
            return
        try:
            shapes = self._dataset_shapes()
        except NetCanvasError as exc:
            report.errors.append(str(exc))
            return
        except Exception as exc:  # noqa: BLE001  a dataset's bug must not take the editor down
            report.errors.append(f"the dataset's shapes could not be read: {type(exc).__name__}: {exc}")
            return
        if params["source"] in shapes:
            inputs["dataset"] = shapes[params["source"]]


def _add_result(report: NodeReport, result: BlockResult) -> None:
    """Copy a block's inferred shapes, counts and errors (one line per inner error) in."""
    report.outputs = dict(result.outputs)
    report.parameters, report.macs = result.parameters, result.macs
    report.warnings = list(result.warnings)
    if result.inner:
        report.inner_errors = list(result.inner)
        report.errors += [e.line() for e in result.inner]
    elif result.error:
        report.errors.append(result.error)


def _is_composite(node) -> bool:
    try:
        return node.spec.composite is not None
    except KeyError:
        return True  # its definition is gone: check it again to say so


def dataset_shapes_for(doc: Document) -> Callable[[], DatasetShapes]:
    """A lazy, memoised lookup of the shapes the document's dataset provides."""
    from engine.data import data_folder, input_shapes  # the data package imports heavier modules

    memo: list[DatasetShapes] = []

    def lookup() -> DatasetShapes:
        if not memo:  # relative data paths are taken from the document's folder
            memo.append(input_shapes(doc.training, data_folder(doc)))
        return memo[0]

    return lookup


def check(doc: Document) -> CheckReport:
    """Shapes on every edge and errors on every node of every network."""
    lookup = dataset_shapes_for(doc)
    reports = {}
    for name, net in doc.networks.items():
        checker = NetworkChecker(net, lookup)
        reports[name] = checker.report()
        checker.close()
    problems = [] if doc.networks else ["the document has no network"]
    from engine.task_check import check_task  # outputs against the task, loss and dataset
    from engine.training.schema import add_training_findings  # training settings' own pass

    problems += check_task(doc, reports)
    return add_training_findings(doc, CheckReport(reports, problems))


__all__ = ["CheckReport", "NetworkChecker", "NetworkReport", "NodeReport", "check", "fmt_shape"]
