"""Composite blocks in the editor (issue 15): group, ungroup, the definition tab,
the inspector and card of a composite, and errors inside it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QPushButton, QTabBar

from engine import document_to_json
from engine.document import Document
from gui.editor.exposing import param_menu
from gui.editor.graphs import block_key
from gui.main_window import MainWindow

CHECK_MS = 3000


def open_doc(window: MainWindow, doc: Document):
    window.set_document(doc, None)
    window.session.check_now()
    return window.current_scene()


def mlp_doc() -> Document:
    """x(4) → fc1(8) → relu → fc2(3) → out."""
    doc = Document("mlp")
    doc.training = {"task": "regression"}
    net = doc.add_network("main")
    chain = [("x", "Input", {"shape": [4]}), ("fc1", "Linear", {"out_features": 8}),
             ("relu", "ReLU", {}), ("fc2", "Linear", {"out_features": 3}), ("out", "Output", {})]
    for i, (node_id, block, params) in enumerate(chain):
        net.add_node(block, params, (i * 180.0, 0.0), node_id)
        if i:
            net.connect(f"{chain[i - 1][0]}.out", f"{node_id}.in")
    return doc


def residual_doc(channels: int = 16) -> Document:
    """x(16×8×8) → stage1 (the built-in ResidualBlock, not copied in) → flatten → out."""
    doc = Document("res")
    doc.training = {"task": "regression"}
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [16, 8, 8]}, (0, 0), "x")
    net.add_node("ResidualBlock", {"channels": channels}, (180, 0), "stage1")
    net.add_node("Flatten", {}, (360, 0), "flatten")
    net.add_node("Output", {}, (540, 0), "out")
    net.connect("x.out", "stage1.in")
    net.connect("stage1.out", "flatten.in")
    net.connect("flatten.out", "out.in")
    return doc


def test_group_and_ungroup_are_one_undo_step_each(window, qtbot):
    scene = open_doc(window, mlp_doc())
    session, doc = window.session, window.session.document
    actions = window.composites.actions
    assert actions.group.shortcut() == QKeySequence("Ctrl+G")
    assert actions.ungroup.shortcut() == QKeySequence("Ctrl+Shift+G")
    assert actions.group in window.menus.edit.actions() and actions.group.statusTip()
    original = document_to_json(doc)
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    actions.group.trigger()
    assert "Hidden" in doc.blocks and set(doc.blocks["Hidden"].nodes) >= {"fc1", "relu"}
    [new] = scene.selected_node_ids()
    assert scene.net.nodes[new].block == "Hidden" and "fc1" not in scene.net.nodes
    assert session.undo_stack.count() == 1
    grouped = document_to_json(doc)
    with qtbot.waitSignal(session.checked, timeout=CHECK_MS):
        pass
    assert scene.nodes[new].report.outputs["out"] == (None, 8)  # checked through the group
    assert not scene.nodes["fc2"].report.errors
    assert actions.ungroup.isEnabled()
    actions.ungroup.trigger()
    assert "fc1" in scene.net.nodes and new not in scene.net.nodes
    assert set(scene.selected_node_ids()) == {"fc1", "relu"}
    assert session.undo_stack.count() == 2
    session.undo_stack.undo()
    assert document_to_json(doc) == grouped
    session.undo_stack.undo()
    assert document_to_json(doc) == original and "Hidden" not in doc.blocks
    assert set(scene.nodes) == set(scene.net.nodes)  # the canvas followed every step
    session.undo_stack.redo()
    assert document_to_json(doc) == grouped


def test_group_is_refused_while_a_run_holds_the_document(window):
    scene = open_doc(window, mlp_doc())
    original = document_to_json(window.session.document)
    window.lock_editing(True)
    scene.select_nodes(["fc1", "relu"])
    window.composites.group_selection()
    assert document_to_json(window.session.document) == original
    assert "locked" in window.statusBar().currentMessage()
    assert not [q for q in window.dialogs.asked if q.startswith("text:")]  # not even asked
    window.lock_editing(False)


def test_group_with_nothing_selected_or_a_cancelled_name_changes_nothing(window):
    scene = open_doc(window, mlp_doc())
    original = document_to_json(window.session.document)
    assert not window.composites.group_selection()
    assert "Select the blocks" in window.statusBar().currentMessage()
    scene.select_nodes(["fc1"])
    window.dialogs.cancel_text = True
    assert not window.composites.group_selection()
    window.dialogs.cancel_text = False
    scene.select_nodes(["x", "fc1"])  # an Input cannot go inside: the engine says why
    assert not window.composites.group_selection()
    assert window.statusBar().currentMessage()
    assert document_to_json(window.session.document) == original


def test_double_click_opens_the_definition_whose_edits_apply_to_every_use(window, qtbot):
    scene = open_doc(window, residual_doc())
    view, session = window.current_view(), window.session
    card = scene.nodes["stage1"]
    view.centerOn(card)
    pos = view.mapFromScene(card.mapToScene(card.boundingRect().center()))
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    key = block_key("ResidualBlock")
    assert window.current_network() == key
    assert window.tabs.tabText(window.tabs.currentIndex()) == "ResidualBlock (block)"
    assert "ResidualBlock" in session.document.blocks  # the built-in was copied in: undoable
    inner = window.current_scene()
    assert {"conv1", "add", "out"} <= set(inner.nodes)
    # Shapes inside come from the outer use: 16 channels of 8×8.
    edge = next(e for e in inner.edges if e.src == "in" and e.dst == "conv1")
    assert inner.edges[edge].label == "N×16×8×8"
    params_before = scene.nodes["stage1"].report.parameters
    with qtbot.waitSignal(session.checked, timeout=CHECK_MS):
        session.set_param(key, "conv1", "bias", True)  # 16 more weights, in the use too
    assert scene.nodes["stage1"].report.parameters == params_before + 16
    session.undo_stack.undo()
    session.check_now()
    assert scene.nodes["stage1"].report.parameters == params_before


def test_inspector_shows_exposed_params_and_repeat_and_the_card_shows_xn(window, qtbot):
    scene = open_doc(window, residual_doc())
    scene.select_nodes(["stage1"])
    editors = window.inspector.editors
    assert {"channels", "repeat"} <= set(editors)
    assert "copies" in editors["repeat"].widget.toolTip()
    single = scene.nodes["stage1"].report.parameters
    assert single > 0
    with qtbot.waitSignal(window.session.checked, timeout=CHECK_MS):
        editors["repeat"].widget.setValue(3)
    card = scene.nodes["stage1"]
    assert scene.net.nodes["stage1"].params["repeat"] == 3
    assert card._lines["block"] == "ResidualBlock ×3"
    assert card.report.parameters == 3 * single
    assert f"{3 * single:,} parameters in all" in card.toolTip()
    window.session.undo_stack.undo()
    assert card._lines["block"] == "ResidualBlock"


def test_an_error_inside_shows_on_the_node_and_one_click_opens_it(window, qtbot):
    scene = open_doc(window, residual_doc(channels=8))  # 16 channels in: the skip add fails
    report = scene.nodes["stage1"].report
    assert report.errors and report.errors[0].startswith("inside ResidualBlock")
    rows = [window.problems.item(i) for i in range(window.problems.count())]
    row = next(r for r in rows if "inside ResidualBlock" in r.text())
    inner = report.inner_errors[0]
    rect = window.problems.visualItemRect(row)
    QTest.mouseClick(window.problems.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_network() == block_key("ResidualBlock")
    assert window.current_scene().selected_node_ids() == [inner.node_id]
    card = window.current_scene().nodes[inner.node_id]  # checked with the use's shapes
    assert card.report.errors and "N×16×8×8" in card.report.errors[0]


def test_definition_tab_follows_undo_and_closes_without_editing(window):
    scene = open_doc(window, mlp_doc())
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    key = block_key("Hidden")
    assert window.composites.open_selected() and window.current_network() == key
    assert "every use" in window.tabs.tabToolTip(window.tabs.currentIndex())
    window.session.undo_stack.undo()  # the group goes, and its definition with it
    assert key not in window.views and window.current_network() == "main"
    window.session.undo_stack.redo()
    assert window.composites.open_definition("Hidden")
    steps = window.session.undo_stack.count()
    bar = window.tabs.tabBar()
    assert bar.tabButton(0, QTabBar.ButtonPosition.RightSide) is None  # networks stay
    window.tabs.tabCloseRequested.emit(window.tabs.currentIndex())
    assert key not in window.views and "Hidden" in window.session.document.blocks
    assert window.session.undo_stack.count() == steps


def test_exposing_an_inner_parameter_makes_it_a_parameter_of_every_use(window, qtbot):
    scene = open_doc(window, mlp_doc())
    session, doc = window.session, window.session.document
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    [node] = scene.selected_node_ids()
    window.composites.open_definition("Hidden")
    window.current_scene().select_nodes(["fc1"])
    label = window.inspector.widget().findChild(QLabel, "label_out_features")
    assert label.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    menu = param_menu(session, "Hidden", "fc1", "out_features", window)
    [action] = menu.actions()
    assert action.text() == "Expose on Hidden"
    action.trigger()
    assert [(e.name, e.default) for e in doc.blocks["Hidden"].exposed] == [("out_features", 8)]
    label = window.inspector.widget().findChild(QLabel, "label_out_features")
    assert "⇡" in label.text() and not window.inspector.editors["out_features"].widget.isEnabled()
    window.tabs.setCurrentIndex(0)
    scene.select_nodes([node])
    assert {"out_features", "repeat"} <= set(window.inspector.editors)
    with qtbot.waitSignal(session.checked, timeout=CHECK_MS):
        window.inspector.editors["out_features"].widget.setValue(5)
    assert scene.nodes[node].report.outputs["out"] == (None, 5)
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert not doc.blocks["Hidden"].exposed


def test_the_description_is_edited_in_the_definition_tab_and_undone(window):
    scene = open_doc(window, mlp_doc())
    doc = window.session.document
    scene.select_nodes(["fc1", "relu"])
    window.dialogs.next_text = "Hidden"
    window.composites.group_selection()
    window.composites.open_definition("Hidden")
    window.current_scene().clearSelection()
    before = doc.blocks["Hidden"].doc
    window.dialogs.next_text = "A layer of 8 with its ReLU"
    window.inspector.widget().findChild(QPushButton, "describeBlock").click()
    assert doc.blocks["Hidden"].doc == "A layer of 8 with its ReLU"
    assert "A layer of 8" in window.palette.items["Hidden"].toolTip(0)
    window.session.undo_stack.undo()
    assert doc.blocks["Hidden"].doc == before
