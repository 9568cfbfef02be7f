"""NetCanvas's engine: documents, blocks, shapes, compiling, training and export.

Everything the GUI does that is not drawing is a call here first, so the CLI,
the tests and a notebook use the same code:

    import engine
    doc = engine.load_document("presets/lenet_digits.json")
    report = engine.check(doc)
    model = engine.compile_network(doc, "main")
    for event in engine.make_trainer(doc).run():   # the events the GUI plots
        ...
    engine.save_bundle(doc, {"main": model}, "lenet.ncz")

Training, export and import load on first use (`engine.make_trainer`, ...), so
`import engine` stays quick for the shape checker.
"""

from __future__ import annotations

import os

from engine.blocks import CATALOGUE, get_block
from engine.bundle import load_bundle, save_bundle
from engine.compiler import compile_network
from engine.document import Document, Edge, Network, Node
from engine.errors import (
    DatasetError,
    DocumentError,
    EditError,
    GraphError,
    NetCanvasError,
    ShapeError,
)
from engine.readwrite import document_to_json, parse_document, save_document
from engine.shapes import CheckReport, NetworkChecker, check


def load_document(path: str | os.PathLike) -> Document:
    """Open a `.json` document, or a `.ncz` bundle with its trained weights."""
    from engine.readwrite import load_json_document

    if os.fspath(path).lower().endswith(".ncz"):
        return load_bundle(path)
    return load_json_document(path)


# name -> module: public names that load their module on first use (PEP 562)
_LAZY = {
    "make_trainer": "engine.training", "RunOptions": "engine.training",
    "export_document": "engine.export", "export_onnx": "engine.export",
    "export_torchscript": "engine.export", "export_python": "engine.export",
    "import_module": "engine.importer", "load_dataset": "engine.data",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'engine' has no attribute '{name}'")


__all__ = [
    "CATALOGUE", "CheckReport", "DatasetError", "Document", "DocumentError", "Edge",
    "EditError", "GraphError", "NetCanvasError", "Network", "NetworkChecker", "Node",
    "ShapeError", "check", "compile_network", "document_to_json", "get_block",
    "load_bundle", "load_document", "parse_document", "save_bundle", "save_document",
    *_LAZY,
]
