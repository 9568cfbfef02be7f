"""Small documents built with the engine API, shared by several test files."""

from __future__ import annotations

from typing import Any

from engine.document import Document


def chain_document(blocks: list[tuple[str, dict[str, Any]]], training: dict[str, Any],
                   input_params: dict[str, Any] | None = None, network: str = "main") -> Document:
    """Input -> blocks... -> Output, ids `b0`, `b1`, ... in order, laid out left to right."""
    doc = Document("test")
    net = doc.add_network(network)
    net.add_node("Input", input_params or {}, (0, 0), "x")
    previous = "x"
    for i, (block, params) in enumerate(blocks):
        node_id = f"b{i}"
        net.add_node(block, params, (200 * (i + 1), 0), node_id)
        net.connect(f"{previous}.out", f"{node_id}.in")
        previous = node_id
    net.add_node("Output", {}, (200 * (len(blocks) + 1), 0), "out")
    net.connect(f"{previous}.out", "out.in")
    doc.training = dict(training)
    return doc


def iris_mlp(**training: Any) -> Document:
    setup = {"task": "classification", "dataset": "iris", "loss": "cross_entropy",
             "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "batch_size": 16,
             "seed": 0, "device": "cpu"}
    setup.update(training)
    return chain_document([("Linear", {"out_features": 16}), ("ReLU", {}),
                           ("Linear", {"out_features": 3})], setup)


def json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (keys and list indexes), the value's own `()` first:
    the places a fuzz test plants bad values."""
    found = [prefix]
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, child in items:
        found += json_paths(child, (*prefix, key))
    return found
