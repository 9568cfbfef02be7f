"""Issue 12, rough edge 6: a grown card never covers the card below it, and a wire routed
around (a backward wire) never runs behind a card."""

from __future__ import annotations

from engine import save_document
from tests.helpers import chain_document

TIMEOUT_MS = 20_000
DIGITS = {"task": "classification", "dataset": "digits", "loss": "cross_entropy", "epochs": 1}


def test_a_card_that_grows_pushes_the_card_below_and_lets_it_back(window, qtbot, tmp_path):
    doc = chain_document([("Flatten", {}), ("Linear", {"out_features": 10})], DIGITS)
    net = doc.network("main")
    x, y = net.nodes["out"].pos
    net.add_node("Input", {}, (x, y + 60), "below")  # just under Output's compact card
    path = tmp_path / "doc.json"
    save_document(doc, path)
    assert window.open_path(str(path))
    scene, session = window.current_scene(), window.session
    out, below = scene.nodes["out"], scene.nodes["below"]
    assert not out.card_rect().intersects(below.card_rect())
    session.set_param("main", "b1", "out_features", 3)  # Output now shows an error and fixes
    qtbot.waitUntil(lambda: bool(out.report and out.report.errors), timeout=TIMEOUT_MS)
    assert out.height > out.compact_height
    assert not out.card_rect().intersects(below.card_rect())
    assert session.document.network("main").nodes["below"].pos == (x, y + 60)  # drawing only
    session.undo_stack.undo()
    qtbot.waitUntil(lambda: not out.report.errors, timeout=TIMEOUT_MS)
    assert scene.pushes == {} and below.pos().y() == scene.nodes["out"].pos().y() + 60 * 1.35


def test_a_wire_routed_around_avoids_the_cards_in_its_lane(window, tmp_path):
    doc = chain_document([], {"task": "regression"}, {"shape": [4]})
    net = doc.network("main")
    net.move("x", (0, 0))
    net.move("out", (0, 300))
    net.add_node("Linear", {"out_features": 4}, (400, 0), "back")
    net.add_node("ReLU", {}, (200, 140), "blocker")  # sits where the lane would run
    for edge in list(net.edges):
        net.disconnect(edge)
    net.connect("x.out", "back.in")
    net.connect("back.out", "out.in")
    path = tmp_path / "doc.json"
    save_document(doc, path)
    assert window.open_path(str(path))
    scene = window.current_scene()
    wire = next(item for edge, item in scene.edges.items() if edge.src == "back")
    rect = scene.nodes["blocker"].card_rect()
    points = [wire._path.pointAtPercent(t / 200) for t in range(201)]
    assert not [p for p in points if rect.contains(p)]
