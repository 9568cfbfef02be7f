"""Quick fixes in the window: a check error's repair is one click and one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine import save_document
from engine.readwrite import document_to_json
from tests.helpers import chain_document

TIMEOUT_MS = 20_000
DIGITS = {"task": "classification", "dataset": "digits", "loss": "cross_entropy", "epochs": 1}


def _open(window, qtbot, tmp_path, blocks):
    path = tmp_path / "digits.json"
    save_document(chain_document(blocks, DIGITS), path)
    assert window.open_path(str(path))
    qtbot.waitUntil(lambda: bool(window.problems.fix_buttons()), timeout=TIMEOUT_MS)
    return window.session


def _button(window, text):
    found = [b for b in window.problems.fix_buttons() if b.text() == text]
    assert found, [b.text() for b in window.problems.fix_buttons()]
    return found[0]


def _no_errors(window):
    return window.problems.problem_count()[0] == 0


def test_the_problems_panel_offers_the_fix_and_one_undo_restores_the_document(
        window, qtbot, tmp_path):
    session = _open(window, qtbot, tmp_path, [("Flatten", {}), ("Linear", {"out_features": 16}),
                                               ("ReLU", {}), ("Linear", {"out_features": 3})])
    before, steps = document_to_json(session.document), session.undo_stack.count()
    assert any("training needs N×10" in window.problems.item(i).text()
               for i in range(window.problems.count()))
    _button(window, "Fix: Set b3.out_features to 10").click()
    qtbot.waitUntil(lambda: _no_errors(window), timeout=TIMEOUT_MS)
    assert session.document.network("main").node("b3").params["out_features"] == 10
    assert session.undo_stack.count() == steps + 1
    session.undo_stack.undo()
    assert document_to_json(session.document) == before
    qtbot.waitUntil(lambda: bool(window.problems.fix_buttons()), timeout=TIMEOUT_MS)


def test_an_insert_fix_is_one_undo_step_that_restores_the_exact_document(
        window, qtbot, tmp_path):
    session = _open(window, qtbot, tmp_path, [("Linear", {"out_features": 10})])
    before, steps = document_to_json(session.document), session.undo_stack.count()
    _button(window, "Fix: Insert Flatten before b0").click()
    qtbot.waitUntil(lambda: _no_errors(window), timeout=TIMEOUT_MS)
    assert "Flatten" in {n.block for n in session.document.network("main").nodes.values()}
    assert session.undo_stack.count() == steps + 1
    session.undo_stack.undo()
    assert document_to_json(session.document) == before
    session.undo_stack.redo()
    qtbot.waitUntil(lambda: _no_errors(window), timeout=TIMEOUT_MS)


def test_a_click_on_the_fix_in_the_node_card_applies_it(window, qtbot, tmp_path):
    session = _open(window, qtbot, tmp_path, [("Flatten", {}), ("Linear", {"out_features": 3})])
    scene, view = window.current_scene(), window.current_view()
    card = scene.nodes["out"]
    qtbot.waitUntil(lambda: bool(card.report and card.report.fixes), timeout=TIMEOUT_MS)
    view.centerOn(card)
    target = view.mapFromScene(card.mapToScene(card.fix_rect(0).center()))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=target)
    qtbot.waitUntil(lambda: _no_errors(window), timeout=TIMEOUT_MS)
    assert session.document.network("main").node("b1").params["out_features"] == 10


@pytest.mark.parametrize("node, shown", [("out", True), ("b1", False)])
def test_the_output_inspector_says_what_the_loss_expects(window, qtbot, tmp_path, node, shown):
    _open(window, qtbot, tmp_path, [("Flatten", {}), ("Linear", {"out_features": 3})])
    window.inspector.show_node("main", node)
    label = window.inspector.expects
    assert label.isVisibleTo(window.inspector) is shown
    if shown:
        assert label.text().startswith("cross_entropy expects N×10 for digits")
