"""The user's block library, importing blocks, bundles and the wheel's built-in files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from engine.bundle import load_bundle, save_bundle
from engine.compiler import compile_network
from engine.composites import import_block, library_blocks, library_dir, save_to_library
from engine.composites.builtin import BUILTIN_DIR
from engine.document import Document
from engine.errors import EditError
from engine.readwrite import document_to_dict
from tests.test_composite_checking import nested_doc


@pytest.fixture
def library(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "library"
    monkeypatch.setenv("NETCANVAS_LIBRARY_DIR", str(folder))
    return folder


def test_library_dir_follows_the_override(library):
    assert library_dir() == library


def test_save_to_library_writes_the_block_and_what_it_uses(library):
    doc = nested_doc()
    path = save_to_library(doc, "Outer")
    assert path == library / "Outer.json"
    record = json.loads(path.read_text("utf-8"))
    assert record["version"] == 2 and set(record["blocks"]) == {"Outer", "Inner"}
    assert set(library_blocks()) == {"Outer"}
    assert not list(library.glob("*.tmp*"))  # atomic: no temporary file left behind


def test_import_block_copies_the_definition_into_another_document(library):
    save_to_library(nested_doc(), "Outer")
    doc = Document()
    assert import_block(doc, "Outer") == ["Outer", "Inner"]
    assert set(doc.blocks) == {"Outer", "Inner"}
    assert import_block(doc, "Outer") == []  # already there: kept as it is
    assert import_block(doc, "ConvBNReLU") == ["ConvBNReLU"]
    assert doc.blocks["ConvBNReLU"].exposed[0].name == "out_channels"
    with pytest.raises(EditError, match="no block 'Nothing'"):
        import_block(doc, "Nothing")


def test_a_bad_library_file_is_skipped_with_a_warning_naming_it(library, caplog):
    save_to_library(nested_doc(), "Outer")
    (library / "Broken.json").write_text("{not json")
    (library / "Elsewhere.json").write_text(json.dumps({"version": 2, "networks": {}}))
    with caplog.at_level(logging.WARNING):
        assert set(library_blocks()) == {"Outer"}
    assert "Broken.json" in caplog.text and "Elsewhere.json" in caplog.text


def test_a_bundle_keeps_the_blocks_and_the_nested_weights(tmp_path):
    doc = nested_doc()
    doc.network("main").set_param("o", "repeat", 2)
    model = compile_network(doc)
    assert "o.0.a.fc.weight" in model.state_dict()
    save_bundle(doc, {"main": model}, tmp_path / "n.ncz")
    again = load_bundle(tmp_path / "n.ncz")
    assert document_to_dict(again) == document_to_dict(doc)
    reloaded = compile_network(again)
    for key, value in model.state_dict().items():
        assert reloaded.state_dict()[key].equal(value)


def test_the_builtin_files_ship_as_package_data():
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"*" = ["*.json"]' in pyproject  # package-data of every package, builtin included
    assert (BUILTIN_DIR / "__init__.py").is_file()
    assert sorted(p.stem for p in BUILTIN_DIR.glob("*.json")) == [
        "ConvBNReLU", "MLPBlock", "ResidualBlock", "TransformerEncoderBlock"]
