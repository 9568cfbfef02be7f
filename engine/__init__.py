"""NetCanvas's engine: documents, blocks, shapes, compiling, training and export.

Everything the GUI does that is not drawing is a call here first, so the CLI,
the tests and a notebook use the same code:

    import engine
    doc = engine.load_document("presets/lenet_digits.json")
    report = engine.check(doc)
    model = engine.compile_network(doc, "main")
    for event in engine.make_trainer(doc).run():   # the events the GUI plots
        ...
    engine.group(doc, "main", ["conv", "bn", "relu"], "ConvUnit").redo()  # a composite
    engine.save_bundle(doc, {"main": model}, "lenet.ncz")

Every public name loads its module on first use (PEP 562): `engine.cli` is a
submodule, so whatever this file imports, `netcanvas --help` pays for. Only
the errors load eagerly (they import nothing); torch arrives with the first
name that needs it (`compile_network`, `save_bundle`, `make_trainer`, ...).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from engine.errors import (
    DatasetError,
    DocumentError,
    EditError,
    GraphError,
    NetCanvasError,
    ShapeError,
)

if TYPE_CHECKING:
    from engine.document import Document

__version__ = "0.1.0"  # the one place: pyproject.toml reads it (dynamic version)


def load_document(path: str | os.PathLike) -> Document:
    """Open a `.json` document, or a `.ncz` bundle with its trained weights."""
    if os.fspath(path).lower().endswith(".ncz"):
        from engine.bundle import load_bundle

        return load_bundle(path)
    from engine.readwrite import load_json_document

    return load_json_document(path)


# name -> module: public names that load their module on first use
_LAZY = {
    "CATALOGUE": "engine.blocks", "get_block": "engine.blocks",
    "load_bundle": "engine.bundle", "save_bundle": "engine.bundle",
    "compile_network": "engine.compiler",
    "Document": "engine.document", "Edge": "engine.document",
    "Network": "engine.document", "Node": "engine.document",
    "document_to_json": "engine.readwrite", "parse_document": "engine.readwrite",
    "save_document": "engine.readwrite",
    "CheckReport": "engine.shapes", "NetworkChecker": "engine.shapes", "check": "engine.shapes",
    "make_trainer": "engine.training", "RunOptions": "engine.training",
    "export_document": "engine.export", "export_onnx": "engine.export",
    "export_torchscript": "engine.export", "export_python": "engine.export",
    "import_module": "engine.importer", "load_dataset": "engine.data",
    # composite blocks (docs/composites.md)
    "ExposedParam": "engine.composites.model", "InnerError": "engine.composites.model",
    "is_composite": "engine.composites.spec", "group": "engine.composites.grouping",
    "ungroup": "engine.composites.grouping", "Regroup": "engine.composites.grouping",
    "use_shapes": "engine.composites.checking",
    "definition_checker": "engine.composites.checking",
    "library_dir": "engine.composites.library", "save_to_library": "engine.composites.library",
    "library_blocks": "engine.composites.library", "import_block": "engine.composites.library",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'engine' has no attribute '{name}'")


__all__ = [
    "DatasetError", "DocumentError", "EditError", "GraphError", "NetCanvasError",
    "ShapeError", "load_document", *_LAZY,
]
