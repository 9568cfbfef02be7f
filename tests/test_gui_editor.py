"""The node editor: palette drops, wiring, shapes, errors, undo/redo, clipboard, layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QSpinBox

from engine import check, document_to_json
from engine.blocks.base import fmt_shape
from engine.document import Document
from gui.editor import clipboard
from gui.editor.geometry import snap, to_doc
from gui.editor.node_item import PortItem
from gui.editor.palette import BLOCK_MIME
from gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parent.parent


def open_doc(window: MainWindow, doc: Document):
    window.set_document(doc, None)
    window.session.check_now()
    return window.current_scene(), window.current_view()


def small_doc() -> Document:
    """x(shape 4) → fc(8) → out, plus a loose Add and a Linear(5)."""
    doc = Document("small")
    doc.training = {"task": "regression"}
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [4]}, (0, 0), "x")
    net.add_node("Linear", {"out_features": 8}, (180, 0), "fc")
    net.add_node("Output", {}, (720, 0), "out")
    net.add_node("Linear", {"out_features": 5}, (180, 160), "side")
    net.add_node("Add", {}, (360, 80), "add")
    net.connect("x.out", "fc.in")
    net.connect("fc.out", "out.in")
    return doc


def drop(view, mime: QMimeData, pos: QPoint) -> None:
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)


def wire(scene, source: str, target: str) -> bool:
    """Drag from the port `source` ("node.port") and release over `target`."""
    src, sp = source.split(".")
    dst, dp = target.split(".")
    src_item = scene.nodes[src]
    port = src_item.outputs.get(sp) or src_item.inputs[sp]
    dst_item = scene.nodes[dst]
    end = (dst_item.inputs.get(dp) or dst_item.outputs[dp]).scenePos()
    scene.wiring.begin(port, port.scenePos())
    scene.wiring.move(end)
    return scene.wiring.finish(end)


def test_drag_from_palette_adds_a_node_at_the_drop_point(window, qtbot, lenet):
    window.open_preset(str(lenet))
    scene, view = window.current_scene(), window.current_view()
    item = window.palette.items["Linear"]
    mime = window.palette.tree.mimeData([item])
    assert bytes(mime.data(BLOCK_MIME).data()) == b"Linear"
    pos = view.viewport().rect().center()
    before = len(scene.net.nodes)
    drop(view, mime, pos)
    assert len(scene.net.nodes) == before + 1
    node = scene.net.nodes["linear_1"]
    assert node.block == "Linear"
    assert "linear_1" in scene.nodes and scene.nodes["linear_1"].isSelected()
    corner = view.mapToScene(pos) - QPointF(scene.nodes["linear_1"].boundingRect().width() / 2
                                            - 3, 13)
    assert node.pos == snap(to_doc(corner))
    window.session.undo_stack.undo()
    assert "linear_1" not in scene.net.nodes and "linear_1" not in scene.nodes


def test_palette_search_filters_and_tooltips_are_docs(window):
    window.palette.search.setText("lstm")
    shown = window.palette.visible_blocks()
    assert "LSTM" in shown and "Linear" not in shown and "Conv2d" not in shown
    assert "LSTM" in window.palette.items["LSTM"].toolTip(0)
    window.palette.search.setText("")
    assert len(window.palette.visible_blocks()) == len(window.palette.items)


def test_wiring_two_ports_creates_the_edge_and_labels_its_shape(window, qtbot):
    scene, _ = open_doc(window, small_doc())
    assert wire(scene, "side.out", "out.in")  # replaces fc → out
    wire(scene, "x.out", "side.in")
    net = scene.net
    assert [e.source for e in net.edges if e.dst == "out"] == ["side.out"]
    with qtbot.waitSignal(window.session.checked, timeout=2000):
        pass
    edge = next(e for e in net.edges if e.source == "side.out")
    expected = check(window.session.document).networks["main"].edges[edge]
    assert scene.edges[edge].label == fmt_shape(expected) == "N×5"
    assert scene.nodes["side"]._lines["shapes"] == [("out", "N×5")]
    window.session.undo_stack.undo()
    window.session.undo_stack.undo()
    assert [e.source for e in net.edges if e.dst == "out"] == ["fc.out"]


def test_invalid_wiring_is_refused_while_dragging(window, qtbot):
    scene, _ = open_doc(window, small_doc())
    assert wire(scene, "fc.out", "side.in")
    before = document_to_json(window.session.document)
    port = scene.nodes["fc"].outputs["out"]
    scene.wiring.begin(port, port.scenePos())
    target = scene.nodes["x"].outputs["out"]  # output to output
    scene.wiring.move(target.scenePos())
    assert target.state == PortItem.REFUSE
    assert scene.wiring.reason.isVisible()
    assert scene.nodes["add"].inputs["a"].state == PortItem.ACCEPT
    with qtbot.waitSignal(window.session.refused) as refused:
        assert not scene.wiring.finish(target.scenePos())
    assert "output to an input" in refused.args[0]
    # A wire that would close a cycle (or loop on itself) is refused by can_connect.
    with qtbot.waitSignal(window.session.refused) as refused:
        assert not wire(scene, "side.out", "fc.in")
    assert "cycle" in refused.args[0]
    assert not wire(scene, "fc.out", "fc.in")
    assert document_to_json(window.session.document) == before
    assert all(p.state == PortItem.NORMAL for p in scene.nodes["x"].outputs.values())


def test_unplugging_an_input_disconnects_and_undo_restores(window):
    scene, _ = open_doc(window, small_doc())
    before = document_to_json(window.session.document)
    port = scene.nodes["out"].inputs["in"]
    scene.wiring.begin(port, port.scenePos())
    assert scene.wiring.finish(port.scenePos() + QPointF(300, 300))
    assert not scene.net.incoming("out")
    window.session.undo_stack.undo()
    assert document_to_json(window.session.document) == before


def test_variadic_merge_grows_a_port_and_mismatched_add_shows_its_error(window, qtbot):
    scene, _ = open_doc(window, small_doc())
    wire(scene, "fc.out", "add.a")
    wire(scene, "x.out", "side.in")
    wire(scene, "side.out", "add.b")
    assert "c" in scene.nodes["add"].inputs and scene.nodes["add"].inputs["c"].ghost
    window.session.check_now()
    item = scene.nodes["add"]
    report = window.session.reports["main"].nodes["add"]
    assert report.errors == ["Add needs matching shapes, got a: N×8, b: N×5"]
    assert " ".join(item._lines["errors"]) == report.errors[0]  # drawn in place, on the card
    assert "✖ Add needs matching shapes" in item.toolTip()
    texts = [window.problems.item(i).text() for i in range(window.problems.count())]
    row = next(i for i, t in enumerate(texts) if "add (Add)" in t)
    scene.clearSelection()
    window.problems.itemClicked.emit(window.problems.item(row))
    assert scene.selected_node_ids() == ["add"]
    assert "✖" in window.totals_label.text()
    window.grab()  # paints the error state without raising


def test_undo_redo_restores_the_document_exactly(window):
    doc = small_doc()
    scene, _ = open_doc(window, doc)
    session = window.session
    states = [document_to_json(doc)]
    session.add_node("main", "ReLU", (400, 300))
    wire(scene, "side.out", "out.in")  # replaces an edge
    session.set_param("main", "fc", "out_features", 16)
    session.set_param("main", "fc", "bias", False)
    scene.select_nodes(["fc"])
    scene.begin_move(scene.nodes["fc"], QPointF(0, 0))
    for step in range(1, 6):
        scene.drag_move(QPointF(step * 20, step * 7))
    scene.end_move()
    session.set_training("epochs", 3)
    scene.select_nodes(["x", "fc"])
    window.duplicate_selection()
    scene.select_nodes(["fc"])
    window.delete_selection()
    window.auto_layout()
    final = document_to_json(doc)
    assert session.undo_stack.count() == 9
    while session.undo_stack.canUndo():
        session.undo_stack.undo()
    assert document_to_json(doc) == states[0]
    while session.undo_stack.canRedo():
        session.undo_stack.redo()
    assert document_to_json(doc) == final


def test_a_drag_is_one_undo_step_and_snaps_to_the_grid(window):
    scene, _ = open_doc(window, small_doc())
    stack = window.session.undo_stack
    scene.select_nodes(["fc", "side"])
    scene.begin_move(scene.nodes["fc"], QPointF(0, 0))
    for step in range(1, 10):
        scene.drag_move(QPointF(step * 13.1, step * 3.3))
    scene.end_move()
    assert stack.count() == 1
    fc, side = scene.net.nodes["fc"].pos, scene.net.nodes["side"].pos
    assert fc[0] % 10 == 0 and fc[1] % 10 == 0
    assert (side[0] - fc[0], side[1] - fc[1]) == (0, 160)
    assert scene.nodes["fc"].pos() == QPointF(fc[0] * 1.35, fc[1] * 1.35)
    stack.undo()
    assert scene.net.nodes["fc"].pos == (180, 0)


def test_inspector_edits_apply_at_once_merge_and_undo(window, qtbot):
    scene, _ = open_doc(window, small_doc())
    scene.select_nodes(["fc"])
    spin = window.inspector.editors["out_features"].widget
    assert isinstance(spin, QSpinBox) and spin.minimum() == 1
    for value in (9, 10, 11, 12):
        spin.setValue(value)
    assert scene.net.nodes["fc"].params["out_features"] == 12
    assert window.session.undo_stack.count() == 1
    with qtbot.waitSignal(window.session.checked, timeout=2000):
        pass
    assert scene.nodes["fc"]._lines["shapes"] == [("out", "N×12")]
    window.session.undo_stack.undo()
    assert spin.value() == 8
    bias = window.inspector.editors["bias"].widget
    bias.setChecked(False)
    assert scene.net.nodes["fc"].params["bias"] is False
    scene.select_nodes(["x"])
    shape = window.inspector.editors["shape"].widget
    shape.textEdited.emit("2, y")
    assert shape.property("invalid") and scene.net.nodes["x"].params["shape"] == [4]
    shape.textEdited.emit("2, 3")
    assert scene.net.nodes["x"].params["shape"] == [2, 3]


def test_checks_are_coalesced_into_one_pass(window, qtbot):
    scene, _ = open_doc(window, small_doc())
    calls = []
    window.session.checked.connect(lambda: calls.append(1))
    for value in range(20, 30):
        window.session.set_param("main", "fc", "out_features", value)
    assert calls == []  # typing is never blocked by checking
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)


def test_training_section_edits_are_undoable(window):
    open_doc(window, small_doc())
    editor, doc = window.training_editor, window.session.document
    editor.epochs.setValue(7)
    editor.lr.setValue(0.01)
    editor.dataset.setCurrentText("digits")
    assert doc.training["epochs"] == 7 and doc.training["optimizer"]["lr"] == 0.01
    field = editor.options_host.findChild(type(editor.dataset.lineEdit()), "dataset_image_size")
    field.textEdited.emit("28")
    assert doc.training["dataset"] == {"name": "digits", "image_size": 28}
    assert window.session.reports["main"] is not None
    stack = window.session.undo_stack
    while stack.canUndo():
        stack.undo()
    assert doc.training == {"task": "regression"}


def test_copy_paste_keeps_internal_wiring_across_tabs_and_documents(window, qtbot, lenet):
    window.open_preset(str(lenet))
    scene = window.current_scene()
    scene.select_nodes(["conv1", "relu1", "pool1"])
    assert window.copy_selection()
    payload = clipboard.clipboard_payload()
    assert [n["id"] for n in payload["nodes"]] == ["conv1", "relu1", "pool1"]
    ids = window.paste()
    assert len(ids) == 3 and not set(ids) & {"conv1", "relu1", "pool1"}
    net = scene.net
    inner = [(e.src, e.dst) for e in net.edges if e.src in ids and e.dst in ids]
    assert inner == [(ids[0], ids[1]), (ids[1], ids[2])]
    assert net.nodes[ids[0]].params == {"out_channels": 20, "kernel_size": 5}
    assert scene.selected_node_ids() == ids
    # Another document with two networks: the ids are free there, so they are kept.
    doc = Document("gan")
    for name in ("generator", "discriminator"):
        doc.add_network(name).add_node("Input", {"shape": [8]}, (0, 0), "x")
    open_doc(window, doc)
    window.tabs.setCurrentIndex(1)
    assert window.current_network() == "discriminator"
    assert window.paste() == ["conv1", "relu1", "pool1"]
    assert len(doc.network("discriminator").edges) == 2
    assert len(doc.network("generator").nodes) == 1


def test_cut_and_delete_remove_nodes_with_their_edges(window):
    scene, _ = open_doc(window, small_doc())
    before = document_to_json(window.session.document)
    scene.select_nodes(["fc"])
    assert window.cut_selection()
    assert "fc" not in scene.net.nodes and not scene.net.edges
    assert clipboard.clipboard_payload()["nodes"][0]["id"] == "fc"
    window.session.undo_stack.undo()
    assert document_to_json(window.session.document) == before
    assert len(scene.edges) == 2


def test_quick_add_popup_adds_the_typed_block_at_the_cursor(window, qtbot):
    scene, view = open_doc(window, small_doc())
    popup = view.open_quick_add(QPoint(200, 150))
    qtbot.keyClicks(popup.search, "lstm")
    assert popup.list.item(0).text() == "LSTM"
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)
    assert "lstm_1" in scene.net.nodes
    assert set(scene.nodes["lstm_1"].outputs) == {"out", "h", "c"}


def test_auto_layout_goes_left_to_right_without_overlaps(window):
    scene, _ = open_doc(window, small_doc())
    wire(scene, "fc.out", "add.a")
    wire(scene, "x.out", "side.in")
    wire(scene, "side.out", "add.b")
    assert window.auto_layout()
    pos = {n: node.pos for n, node in scene.net.nodes.items()}
    assert pos["x"][0] < pos["fc"][0] < pos["add"][0]
    assert pos["fc"][0] == pos["side"][0]
    rects = [item.card_rect() for item in scene.nodes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    window.session.undo_stack.undo()
    assert scene.net.nodes["add"].pos == (360, 80)


def test_view_zooms_at_the_cursor_and_frames(window, lenet):
    window.open_preset(str(lenet))
    view, scene = window.current_view(), window.current_scene()
    anchor = QPoint(300, 200)
    before = view.mapToScene(anchor)
    view.zoom_by(1.5, anchor)
    after = view.mapToScene(anchor)
    assert abs(before.x() - after.x()) < 2 and abs(before.y() - after.y()) < 2
    scene.select_nodes(["fc1"])
    view.frame_selection()
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(
        scene.nodes["fc1"].sceneBoundingRect())
    view.frame_all()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(visible.contains(i.sceneBoundingRect()) for i in scene.nodes.values())
    assert not view.minimap.isVisible()
    view.zoom_by(4)
    assert view.minimap.isVisible()


def test_mouse_gestures_wire_and_move_through_the_view(window, qtbot):
    """Real mouse events on the viewport: drag a wire, then drag a card by its header."""
    scene, view = open_doc(window, small_doc())
    view.resetTransform()
    view.centerOn(scene.nodes["fc"])

    def at(item) -> QPoint:
        return view.mapFromScene(item.scenePos())

    vp = view.viewport()
    start, end = at(scene.nodes["side"].outputs["out"]), at(scene.nodes["add"].inputs["a"])
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(vp, (start + end) / 2)
    qtbot.mouseMove(vp, end)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    assert [e.source for e in scene.net.edges if e.dst == "add"] == ["side.out"]
    header = view.mapFromScene(scene.nodes["fc"].scenePos() + QPointF(40, 10))
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=header)
    for step in range(1, 5):
        qtbot.mouseMove(vp, header + QPoint(step * 20, step * 10))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=header + QPoint(80, 40))
    assert scene.net.nodes["fc"].pos != (180, 0)
    assert window.session.undo_stack.count() == 2  # one wire, one move


def test_tab_and_double_click_open_the_quick_add(window, qtbot):
    scene, view = open_doc(window, small_doc())
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert view.popup is not None and view.popup.isVisible()
    view.popup.close()
    view.centerOn(QPointF(-600, -600))
    empty = view.mapFromScene(QPointF(-600, -600))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=empty)
    assert view.popup.isVisible()
    view.popup.accept_block("GRU")
    node = scene.net.nodes["gru_1"]
    assert abs(node.pos[0] - (-600 / 1.35 - 170 / 2 / 1.35)) < 11
