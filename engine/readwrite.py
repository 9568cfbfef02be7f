"""Reading and writing the JSON format (version 2: composite `blocks`; v1 migrates).

Loading goes in three steps (as orange-canvas-core's `scheme/readwrite.py`):
parse the text into plain records, migrate old versions, then build the
`Document`. Every check names the file, the JSON path and what was expected,
so a bad file gives one readable message and never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from typing import Any

from engine.composites.cycles import MAX_NESTING, nesting_depths
from engine.composites.holder import block_name_problem
from engine.composites.model import ExposedParam
from engine.document import IDENTIFIER, Document, Edge, Network, split_address
from engine.errors import DocumentError
from engine.fileio import atomic_write_bytes
from engine.safeload import MAX_DOCUMENT_BYTES, parse_json, read_regular

FORMAT = "netcanvas"
VERSION = 2


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added composite block definitions: a v1 file has none."""
    return {**raw, "version": 2, "blocks": raw.get("blocks", {})}


# version n -> function turning a version-n record into a version n+1 record.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}

DOCUMENT_KEYS = {"format", "version", "name", "description", "blocks", "networks", "training"}
BLOCK_KEYS = {"doc", "params", "nodes", "edges"}
EXPOSED_KEYS = {"name", "kind", "default", "doc", "targets", "min", "max", "choices"}
NODE_KEYS = {"id", "block", "params", "pos"}
EDGE_KEYS = {"from", "to"}


class _Reader:
    """Walks the raw JSON, raising DocumentError with the path where it went wrong."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, reason: str) -> DocumentError:
        return DocumentError(self.file, path, reason)

    def expect(self, value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            raise self.fail(path, f"expected {what}, got {_describe(value)}")
        return value

    def document(self, raw: Any) -> Document:
        raw = self.expect(raw, dict, "", "a JSON object at the top level")
        if raw.get("format", FORMAT) != FORMAT:
            raise self.fail("format", f"expected \"{FORMAT}\", got {raw['format']!r}")
        raw = self.migrate(raw)
        doc = Document(
            self.expect(raw.get("name", "Untitled"), str, "name", "a string"),
            self.expect(raw.get("description", ""), str, "description", "a string"),
        )
        self.blocks(doc, self.expect(raw.get("blocks", {}), dict, "blocks",
                                     "an object of named block definitions"))
        networks = self.expect(raw.get("networks"), dict, "networks",
                               "an object of named networks")
        for name, net in networks.items():
            if not IDENTIFIER.fullmatch(name):
                raise self.fail(f"networks.{name}", "a network name must be a Python identifier")
            self.network(doc.add_network(name), net, f"networks.{name}")
        doc.training = dict(self.expect(raw.get("training", {}), dict, "training", "an object"))
        self.training(doc.training)
        doc.extra = {k: v for k, v in raw.items() if k not in DOCUMENT_KEYS}
        return doc

    def training(self, training: dict[str, Any]) -> None:
        """A training value of the wrong JSON type is a load error (engine/training/schema)."""
        from engine.training.schema import first_type_error  # keeps the import graph acyclic

        problem = first_type_error(training)
        if problem:
            raise self.fail(*problem)

    def migrate(self, raw: dict[str, Any]) -> dict[str, Any]:
        version = raw.get("version", VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.fail("version", f"expected a positive integer, got {_describe(version)}")
        if version > VERSION:
            raise self.fail(
                "version",
                f"this file is format version {version}, but this NetCanvas reads up to "
                f"version {VERSION}; open it with a newer NetCanvas",
            )
        while version < VERSION:
            raw = MIGRATIONS[version](raw)
            version += 1
        return raw

    def network(self, network: Network, raw: Any, path: str) -> None:
        self.nodes(network, raw, path)
        self.edges(network, raw, path)

    def nodes(self, network: Network, raw: Any, path: str) -> None:
        raw = self.expect(raw, dict, path, "an object with nodes and edges")
        nodes = self.expect(raw.get("nodes", []), list, f"{path}.nodes", "a list of nodes")
        for i, node in enumerate(nodes):
            self.node(network, node, f"{path}.nodes[{i}]")
        network.extra = {k: v for k, v in raw.items()
                         if k not in {"nodes", "edges"} | (BLOCK_KEYS if network.is_definition else set())}

    def edges(self, network: Network, raw: dict[str, Any], path: str) -> None:
        edges = self.expect(raw.get("edges", []), list, f"{path}.edges", "a list of edges")
        for i, edge in enumerate(edges):
            self.edge(network, edge, f"{path}.edges[{i}]")

    def blocks(self, doc: Document, raw: dict[str, Any]) -> None:
        """Composite definitions, in passes: every name first (a definition may use one
        defined after it), then exposed params (the uses' parameters), nodes, edges,
        and last the exposed targets, which name inner nodes."""
        for name, definition in raw.items():
            problem = block_name_problem(name, doc.blocks)
            if problem:
                raise self.fail(f"blocks.{name}", problem)
            self.expect(definition, dict, f"blocks.{name}", "a block definition object")
            doc.add_block(name)
        for name, definition in raw.items():
            doc.blocks[name].doc = self.expect(definition.get("doc", ""), str,
                                               f"blocks.{name}.doc", "a string")
            doc.blocks[name].exposed = self.exposed(definition.get("params", []),
                                                    f"blocks.{name}.params")
        for name, definition in raw.items():
            self.nodes(doc.blocks[name], definition, f"blocks.{name}")
        for name, definition in raw.items():
            self.edges(doc.blocks[name], definition, f"blocks.{name}")
            from engine.composites.exposed import exposed_problems

            for where, reason in exposed_problems(doc.blocks[name], doc.blocks[name].exposed):
                raise self.fail(f"blocks.{name}.{where}", reason)
        for name, depth in nesting_depths(doc).items():
            if depth > MAX_NESTING:
                raise self.fail(f"blocks.{name}", f"composites nest {depth} deep here; "
                                                  f"at most {MAX_NESTING} are read")

    def exposed(self, raw: Any, path: str) -> list[ExposedParam]:
        items = self.expect(raw, list, path, "a list of exposed parameters")
        exposed = []
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            item = self.expect(item, dict, where, "an exposed parameter object")
            targets = self.expect(item.get("targets", []), list, f"{where}.targets",
                                  'a list of "inner_node.param"')
            bounds = {k: self.expect(item[k], int | float, f"{where}.{k}", "a number")
                      for k in ("min", "max") if item.get(k) is not None}
            exposed.append(ExposedParam(
                self.expect(item.get("name"), str, f"{where}.name", "a parameter name"),
                self.expect(item.get("kind"), str, f"{where}.kind", "a parameter kind"),
                item.get("default"), self.expect(item.get("doc", ""), str, f"{where}.doc", "a string"),
                list(targets), bounds.get("min"), bounds.get("max"),
                tuple(self.expect(item.get("choices", []), list, f"{where}.choices", "a list"))))
        return exposed

    def node(self, network: Network, raw: Any, path: str) -> None:
        raw = self.expect(raw, dict, path, "a node object")
        node_id = self.expect(raw.get("id"), str, f"{path}.id", "a string id")
        if not IDENTIFIER.fullmatch(node_id):
            raise self.fail(f"{path}.id", f"'{node_id}' is not a valid id (letters, digits, _)")
        if node_id in network.nodes:
            raise self.fail(f"{path}.id", f"duplicate node id '{node_id}'")
        block = self.expect(raw.get("block"), str, f"{path}.block", "a block name")
        try:
            spec = network.resolve(block)
        except KeyError:
            raise self.fail(f"{path}.block", f"unknown block '{block}'") from None
        if network.is_definition and network.context is not None:
            cycle = network.context.use_cycle(network.name, block)
            if cycle:
                raise self.fail(f"{path}.block", f"{network.name} would use itself: "
                                                 f"{' -> '.join(cycle)}")
        params = self.expect(raw.get("params", {}), dict, f"{path}.params", "an object")
        for name, value in params.items():
            param = spec.param(name)
            problem = param.type_error(value) if param else None
            if problem:
                raise self.fail(f"{path}.params.{name}", problem)
        pos = raw.get("pos", [0, 0])
        if not (isinstance(pos, list) and len(pos) == 2 and all(_finite(v) for v in pos)):
            raise self.fail(f"{path}.pos", f"expected [x, y] numbers, got {_describe(pos)}")
        extra = {k: v for k, v in raw.items() if k not in NODE_KEYS}
        network.add_node(block, params, (pos[0], pos[1]), node_id, extra)

    def edge(self, network: Network, raw: Any, path: str) -> None:
        raw = self.expect(raw, dict, path, 'an edge object {"from": ..., "to": ...}')
        ends = []
        for key in ("from", "to"):
            address = self.expect(raw.get(key), str, f"{path}.{key}", '"node.port"')
            if "." not in address:
                raise self.fail(f"{path}.{key}", f'expected "node.port", got {address!r}')
            node_id, port = split_address(address)
            if node_id not in network.nodes:
                raise self.fail(f"{path}.{key}", f"no node '{node_id}' (dangling edge)")
            spec = network.nodes[node_id].spec
            ok = port in spec.output_names() if key == "from" else spec.accepts_input(port)
            if not ok:
                side = "output" if key == "from" else "input"
                raise self.fail(f"{path}.{key}", f"'{spec.name}' has no {side} port '{port}'")
            ends.append((node_id, port))
        (src, src_port), (dst, dst_port) = ends
        edge = Edge(src, src_port, dst, dst_port, {k: v for k, v in raw.items() if k not in EDGE_KEYS})
        if dst_port in network.incoming(dst):
            raise self.fail(path, f"input {dst}.{dst_port} is wired twice")
        network.add_edge(edge)


def _finite(value: Any) -> bool:
    """A JSON number a float can hold: huge integers, NaN and infinity are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "nothing"}
    text = json.dumps(value)[:40] if not isinstance(value, dict | list) else ""
    return names.get(type(value), type(value).__name__) + (f" ({text})" if text else "")


def parse_document(text: str | bytes, file: str = "") -> Document:
    """Build a Document from JSON text; DocumentError says what and where."""
    raw = parse_json(text, file)  # depth, lone surrogates: refused with their path
    return _Reader(file).document(raw)


def load_json_document(path: str | os.PathLike) -> Document:
    """A `.json` document: a regular file of at most MAX_DOCUMENT_BYTES."""
    doc = parse_document(read_regular(path, MAX_DOCUMENT_BYTES), str(path))
    doc.path = str(path)
    return doc


def network_to_dict(net: Network) -> dict[str, Any]:
    """A network's record: nodes and edges in file order, its unknown keys after them."""
    nodes = [
        {"id": n.id, "block": n.block, "params": n.params,
         "pos": [round(n.pos[0], 2), round(n.pos[1], 2)], **n.extra}
        for n in net.nodes.values()
    ]
    edges = [{"from": e.source, "to": e.target, **e.extra} for e in net.edges]
    return {"nodes": nodes, "edges": edges, **net.extra}


def block_to_dict(definition: Network) -> dict[str, Any]:
    """A composite definition's record: doc, exposed params, then the network."""
    return {"doc": definition.doc, "params": [e.to_record() for e in definition.exposed],
            **network_to_dict(definition)}


def document_to_dict(doc: Document) -> dict[str, Any]:
    """The v2 record of a document; unknown keys go back where they came from."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": doc.name,
        "description": doc.description,
        "blocks": {name: block_to_dict(b) for name, b in doc.blocks.items()},
        "networks": {name: network_to_dict(net) for name, net in doc.networks.items()},
        "training": doc.training,
        **doc.extra,
    }


def document_to_json(doc: Document) -> str:
    return json.dumps(document_to_dict(doc), indent=2, ensure_ascii=False) + "\n"


LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # never paired in a str: json joins pairs


def document_bytes(doc: Document) -> bytes:
    """The file's UTF-8 bytes; saving never fails on text.

    A lone surrogate can reach a document only through code (loading refuses
    it, as no UTF-8 file can hold one); it is written as U+FFFD, the
    replacement character, so the file saves and opens again.
    """
    return LONE_SURROGATE.sub("\ufffd", document_to_json(doc)).encode("utf-8")


def save_document(doc: Document, path: str | os.PathLike) -> None:
    """Write the document atomically; the previous file survives any failure."""
    atomic_write_bytes(path, document_bytes(doc))
    doc.path = str(path)
