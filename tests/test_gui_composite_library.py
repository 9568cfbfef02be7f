"""Composite blocks across documents (issue 15): the palette's My blocks, the user's
library, copy/paste of a composite into another document, autosave and recovery."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QLabel, QPushButton

from engine import document_to_json
from engine.composites import library_dir
from engine.document import Document
from gui.editor import clipboard
from gui.editor.palette import BLOCK_MIME
from gui.recovery import RecoveryFile
from tests.test_gui_composite import mlp_doc, open_doc, residual_doc
from tests.test_gui_editor import drop


def image_doc() -> Document:
    doc = Document("img")
    doc.training = {"task": "regression"}
    doc.add_network("main").add_node("Input", {"shape": [16, 8, 8]}, (0, 0), "x")
    return doc


def drop_block(window, name: str) -> None:
    view = window.current_view()
    mime = QMimeData()
    mime.setData(BLOCK_MIME, name.encode("utf-8"))
    drop(view, mime, view.viewport().rect().center())


def test_my_blocks_lists_built_in_composites_with_tooltips(window):
    open_doc(window, image_doc())
    palette = window.palette
    group = palette.my_blocks
    assert group.text(0) == "My blocks" and not group.isHidden()
    names = [group.child(i).text(0) for i in range(group.childCount())]
    assert {"ConvBNReLU", "ResidualBlock", "TransformerEncoderBlock", "MLPBlock"} <= set(names)
    tip = palette.items["ResidualBlock"].toolTip(0)
    assert "built in" in tip and "skip connection" in tip and "channels" in tip
    palette.search.setText("residualbl")
    assert palette.visible_blocks() == ["ResidualBlock"]


def test_dropping_a_built_in_copies_its_definition_in_the_same_undo_step(window):
    scene = open_doc(window, image_doc())
    doc, stack = window.session.document, window.session.undo_stack
    before = document_to_json(doc)
    drop_block(window, "ResidualBlock")
    [node] = scene.selected_node_ids()
    assert scene.net.nodes[node].block == "ResidualBlock" and "ResidualBlock" in doc.blocks
    assert stack.count() == 1
    assert window.palette.items["ResidualBlock"].toolTip(0).count("this document") == 1
    stack.undo()
    assert document_to_json(doc) == before and "ResidualBlock" not in doc.blocks
    stack.redo()
    assert "ResidualBlock" in doc.blocks and node in scene.net.nodes


def test_save_to_library_lists_the_block_in_every_document(window):
    scene = open_doc(window, mlp_doc())
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    assert window.composites.actions.save.isEnabled()
    assert window.composites.save_to_library()
    saved = library_dir() / "Hidden.json"
    assert saved.exists() and "Hidden" in json.loads(saved.read_text())["blocks"]
    assert "Saved Hidden" in window.statusBar().currentMessage()
    # A new document: Hidden is offered from the library and comes in when dropped.
    window.set_document(image_doc(), None)
    assert "your library" in window.palette.items["Hidden"].toolTip(0)
    window.session.document.network("main").nodes["x"].params["shape"] = [4]
    drop_block(window, "Hidden")
    assert "Hidden" in window.session.document.blocks
    window.session.undo_stack.undo()
    assert "Hidden" not in window.session.document.blocks


def test_saving_over_a_library_block_asks_first(window):
    scene = open_doc(window, residual_doc())
    scene.select_nodes(["stage1"])
    window.composites.save_to_library()
    saved = library_dir() / "ResidualBlock.json"
    stamp = saved.read_text()
    window.dialogs.confirm_answer = False
    assert not window.composites.save_to_library()
    assert window.dialogs.asked[-1] == "confirm:Save Block to Library"
    assert saved.read_text() == stamp


def test_copy_paste_carries_the_definition_into_another_document(window):
    scene = open_doc(window, mlp_doc())
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    [node] = scene.selected_node_ids()
    assert window.copy_selection()
    assert "Hidden" in clipboard.clipboard_payload()["blocks"]
    open_doc(window, image_doc())
    doc = window.session.document
    ids = window.paste()
    assert ids == [node] and doc.network("main").nodes[node].block == "Hidden"
    assert set(doc.blocks["Hidden"].nodes) >= {"fc1", "relu"}
    assert window.session.undo_stack.count() == 1
    window.session.undo_stack.undo()
    assert not doc.blocks and node not in doc.network("main").nodes


def test_pasting_a_different_definition_of_a_taken_name_renames_it(window):
    first = mlp_doc()
    first.add_block("Hidden")  # an empty Hidden already lives in the target
    scene = open_doc(window, mlp_doc())
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    window.copy_selection()
    open_doc(window, first)
    [node] = window.paste()
    doc = window.session.document
    assert doc.network("main").nodes[node].block == "Hidden2"
    assert not doc.blocks["Hidden"].nodes and "fc1" in doc.blocks["Hidden2"].nodes


def test_autosave_writes_the_definitions_and_recovery_restores_them(window):
    scene = open_doc(window, mlp_doc())
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    path = window.files.autosave_now()
    record = json.loads(path.read_text())["document"]
    assert record["version"] == 2 and "Hidden" in record["blocks"]
    expected = document_to_json(window.session.document)
    # This process is alive, so nothing offers its file: load it as recovery would.
    doc = RecoveryFile(path, 0, "mlp", None, 0.0).load()
    assert document_to_json(doc) == expected
    window.set_document(doc, None, dirty=True)
    node = next(n for n in window.session.document.network("main").nodes.values()
                if n.block == "Hidden")
    window.session.check_now()
    assert window.current_scene().nodes[node.id].report.outputs["out"] == (None, 8)


def test_the_definition_tab_saves_to_the_library_and_refuses_to_group(window, qtbot):
    open_doc(window, residual_doc())
    doc = window.session.document
    assert window.composites.open_definition("ResidualBlock")
    inner = window.current_scene()
    inner.clearSelection()
    page = window.inspector.widget()
    assert page.objectName() == "definitionSummary"
    assert any("used by: main.stage1" in label.text() for label in page.findChildren(QLabel))
    qtbot.mouseClick(page.findChild(QPushButton, "saveToLibrary"), Qt.MouseButton.LeftButton)
    assert (library_dir() / "ResidualBlock.json").exists()
    before = document_to_json(doc)
    inner.select_nodes(["conv1", "bn1"])
    assert not window.composites.actions.group.isEnabled()
    assert not window.composites.group_selection()
    assert "network's tab" in window.statusBar().currentMessage()
    assert document_to_json(doc) == before


def test_quick_add_offers_composites_and_copies_the_one_chosen(window):
    scene = open_doc(window, image_doc())
    view = window.current_view()
    popup = view.open_quick_add(view.viewport().rect().center())
    popup.search.setText("convbn")
    assert popup.list.item(0).text() == "ConvBNReLU"
    assert "built in" in popup.list.item(0).toolTip()
    popup.accept_current()
    [node] = scene.selected_node_ids()
    assert scene.net.nodes[node].block == "ConvBNReLU"
    assert "ConvBNReLU" in window.session.document.blocks


def test_a_nested_composite_pastes_with_both_definitions_and_undoes_cleanly(window):
    scene = open_doc(window, mlp_doc())
    scene.select_nodes(["fc1"])
    window.dialogs.next_text = "Inner"
    window.composites.group_selection()
    [inner] = scene.selected_node_ids()
    scene.select_nodes([inner, "relu"])
    window.dialogs.next_text = "Outer"
    window.composites.group_selection()
    window.copy_selection()
    assert list(clipboard.clipboard_payload()["blocks"]) == ["Inner", "Outer"]  # inside out
    open_doc(window, image_doc())
    doc = window.session.document
    [node] = window.paste()
    assert set(doc.blocks) == {"Inner", "Outer"} and doc.network("main").nodes[node]
    window.session.undo_stack.undo()
    assert not doc.blocks
    window.session.undo_stack.redo()
    assert set(doc.blocks) == {"Inner", "Outer"}


def test_a_clipboard_with_broken_definitions_is_refused_in_words(window):
    open_doc(window, image_doc())
    doc = window.session.document
    before = document_to_json(doc)
    payload = {"format": clipboard.CLIP_FORMAT, "version": 1,
               "nodes": [{"id": "b", "block": "Broken", "pos": [0, 0]}], "edges": [],
               "blocks": {"Broken": {"nodes": "not a list"}}}
    assert window.paste(payload) == []
    assert "cannot paste" in window.statusBar().currentMessage()
    assert document_to_json(doc) == before
