"""The Document's editing methods and their events: what undo commands and views rely on.

Every GUI edit is one of these calls wrapped in an undo command, and every view
redraws from the events, so each call must either change the document and
announce it, or refuse with an EditError and leave it untouched.
"""

from __future__ import annotations

import random

import networkx as nx
import pytest
import torch

from engine import load_document
from engine.document import Document, Edge, Network, split_address
from engine.errors import EditError
from engine.observer import Event
from engine.readwrite import document_to_json


def chain() -> tuple[Document, Network]:
    """x -> fc -> relu -> out, the smallest network with every kind of node."""
    doc = Document("t")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [4]}, node_id="x")
    net.add_node("Linear", {"out_features": 3}, node_id="fc")
    net.add_node("ReLU", node_id="relu")
    net.add_node("Output", node_id="out")
    net.connect("x.out", "fc.in")
    net.connect("fc.out", "relu.in")
    net.connect("relu.out", "out.in")
    return doc, net


class Recorder:
    """Subscribes to every event of a network and logs what it hears."""

    def __init__(self, net: Network) -> None:
        self.log: list[tuple] = []
        self.net = net
        self.callbacks = {
            "node_added": lambda n: self.log.append(("node_added", n.id)),
            "node_removed": lambda n: self.log.append(("node_removed", n.id)),
            "edge_added": lambda e: self.log.append(("edge_added", str(e))),
            "edge_removed": lambda e: self.log.append(("edge_removed", str(e))),
            "param_changed": lambda n, name: self.log.append(("param_changed", n.id, name)),
            "node_moved": lambda n: self.log.append(("node_moved", n.id, n.pos)),
            "changed": lambda: self.log.append(("changed",)),
        }
        for name, callback in self.callbacks.items():
            getattr(net, name).sub(callback)

    def close(self) -> None:
        for name, callback in self.callbacks.items():
            getattr(self.net, name).unsub(callback)


# ---- the observer -------------------------------------------------------------------


def test_event_sub_unsub_and_order():
    event, heard = Event(), []
    first, second = (lambda v: heard.append(("first", v))), (lambda v: heard.append(("second", v)))
    event.sub(first)
    event.sub(second)
    event.sub(first)  # subscribing twice calls once
    event.emit(1)
    event.unsub(first)
    event.emit(2)
    event.unsub(first)  # unsubscribing what is not subscribed is harmless
    assert heard == [("first", 1), ("second", 1), ("second", 2)]


def test_event_callback_may_unsubscribe_itself_while_emitting():
    event, heard = Event(), []

    def once() -> None:
        heard.append("once")
        event.unsub(once)

    event.sub(once)
    event.sub(lambda: heard.append("always"))
    event.emit()
    event.emit()
    assert heard == ["once", "always", "always"]


# ---- editing and its events ------------------------------------------------------------


def test_add_node_events_and_ids():
    doc = Document()
    net = doc.add_network("main")
    rec = Recorder(net)
    doc_changes = []
    doc.changed.sub(lambda: doc_changes.append(1))
    a = net.add_node("Conv2d", {"out_channels": 8}, pos=(10, 20))
    b = net.add_node("Conv2d")
    assert (a.id, b.id) == ("conv2d_1", "conv2d_2")
    assert a.pos == (10.0, 20.0) and a.params == {"out_channels": 8}
    assert rec.log == [("node_added", "conv2d_1"), ("changed",), ("node_added", "conv2d_2"), ("changed",)]
    assert len(doc_changes) == 2  # the document hears every network's edits
    assert net.unique_id("MultiheadAttention") == "multihead_attention_1"


def test_add_node_refusals_leave_the_network_alone():
    _, net = chain()
    rec = Recorder(net)
    with pytest.raises(EditError, match="already exists"):
        net.add_node("ReLU", node_id="fc")
    with pytest.raises(EditError, match="identifier"):
        net.add_node("ReLU", node_id="not an id")
    with pytest.raises(KeyError, match="Nope"):
        net.add_node("Nope")
    assert rec.log == [] and list(net.nodes) == ["x", "fc", "relu", "out"]


def test_params_are_copied_not_shared():
    _, net = chain()
    shape = [1, 2]
    net.set_param("x", "shape", shape)
    shape.append(3)
    assert net.nodes["x"].params["shape"] == [1, 2]
    params = {"out_features": 5}
    node = net.add_node("Linear", params)
    params["out_features"] = 6
    assert node.params == {"out_features": 5}


def test_set_param_returns_old_value_and_none_resets():
    _, net = chain()
    rec = Recorder(net)
    assert net.set_param("fc", "out_features", 7) == 3
    assert net.nodes["fc"].resolved_params()["out_features"] == 7
    assert net.set_param("fc", "out_features", None) == 7
    assert "out_features" not in net.nodes["fc"].params
    assert net.nodes["fc"].resolved_params()["out_features"] == 64  # the declared default
    assert rec.log == [("param_changed", "fc", "out_features"), ("changed",)] * 2
    with pytest.raises(EditError, match="no node 'nope'"):
        net.set_param("nope", "p", 1)


def test_move_event():
    _, net = chain()
    rec = Recorder(net)
    net.move("fc", (3, 4.5))
    assert net.nodes["fc"].pos == (3.0, 4.5)
    assert rec.log == [("node_moved", "fc", (3.0, 4.5)), ("changed",)]


def test_unsubscribed_views_hear_nothing():
    _, net = chain()
    rec = Recorder(net)
    rec.close()
    net.move("fc", (1, 1))
    net.set_param("fc", "out_features", 2)
    assert rec.log == []


def test_connect_replaces_the_edge_into_a_taken_input():
    _, net = chain()
    net.add_node("Tanh", node_id="tanh")
    net.connect("x.out", "tanh.in")
    rec = Recorder(net)
    edge, replaced = net.connect("tanh.out", "relu.in")
    assert replaced == Edge("fc", "out", "relu", "in")
    assert edge == Edge("tanh", "out", "relu", "in")
    assert net.incoming("relu") == {"in": edge}
    assert sum(e.target == "relu.in" for e in net.edges) == 1
    assert rec.log == [("edge_removed", "fc.out -> relu.in"), ("edge_added", "tanh.out -> relu.in"),
                       ("changed",)]
    # Undo as a command would: take the new edge away, put the old one back.
    net.disconnect(edge)
    net.add_edge(replaced)
    assert net.incoming("relu") == {"in": replaced}


@pytest.mark.parametrize(("source", "target", "reason"), [
    ("relu.out", "fc.in", "cycle"),
    ("out.out", "fc.in", "no output port"),
    ("fc.out", "relu.nope", "no input port"),
    ("nope.out", "relu.in", "no node 'nope'"),
    ("fc.out", "fc.in", "itself"),
    ("fc", "relu.in", "no output port ''"),
])
def test_connect_refusals_change_nothing(source: str, target: str, reason: str):
    _, net = chain()
    before = list(net.edges)
    rec = Recorder(net)
    assert reason in net.can_connect(source, target)
    with pytest.raises(EditError, match=reason):
        net.connect(source, target)
    assert net.edges == before and rec.log == []


def test_connect_refuses_a_longer_cycle():
    _, net = chain()
    net.add_node("Add", node_id="add")
    net.connect("relu.out", "add.a")
    assert net.can_connect("add.out", "fc.in") is not None
    net.connect("x.out", "add.b")  # a second path from x is fine
    assert net.can_connect("add.out", "out.in") is None


def test_merge_ports_beyond_a_and_b():
    _, net = chain()
    net.add_node("Concat", node_id="cat")
    for port in ("a", "b", "c", "d"):
        net.connect("x.out", f"cat.{port}")
    assert sorted(net.incoming("cat")) == ["a", "b", "c", "d"]
    assert net.nodes["cat"].spec.input_names(set(net.incoming("cat"))) == ["a", "b", "c", "d"]
    assert "no input port 'z'" in net.can_connect("x.out", "cat.z")


def test_remove_node_returns_its_edges_and_restore_puts_everything_back():
    doc, net = chain()
    before_nodes, before_edges = list(net.nodes), list(net.edges)
    order = net.topological_order()
    rec = Recorder(net)
    node, edges = net.remove_node("fc")
    assert node.id == "fc" and set(map(str, edges)) == {"x.out -> fc.in", "fc.out -> relu.in"}
    assert "fc" not in net.nodes and not net.incoming("relu") and not net.outgoing("x")
    assert rec.log[-2:] == [("node_removed", "fc"), ("changed",)]
    assert [entry[0] for entry in rec.log].count("edge_removed") == 2
    net.restore_node(node, before_nodes.index("fc"))
    for edge in edges:
        net.add_edge(edge)
    assert list(net.nodes) == before_nodes
    assert set(net.edges) == set(before_edges)
    assert net.topological_order() == order
    assert net.nodes["fc"] is node  # the same object, so views keyed by it still match
    with pytest.raises(EditError, match="already exists"):
        net.restore_node(node)


def test_add_edge_refuses_duplicates_and_a_taken_input():
    _, net = chain()
    with pytest.raises(EditError, match="already exists"):
        net.add_edge(Edge("x", "out", "fc", "in"))
    net.add_node("Tanh", node_id="tanh")
    with pytest.raises(EditError, match="already wired"):
        net.add_edge(Edge("tanh", "out", "fc", "in"))
    with pytest.raises(EditError, match="no node"):
        net.add_edge(Edge("ghost", "out", "tanh", "in"))
    assert len(net.edges) == 3


def test_disconnect_unknown_edge():
    _, net = chain()
    with pytest.raises(EditError, match="no edge"):
        net.disconnect(Edge("x", "out", "relu", "in"))


def test_edge_extra_does_not_change_identity():
    a = Edge("x", "out", "fc", "in", {"color": "red"})
    b = Edge("x", "out", "fc", "in")
    assert a == b and hash(a) == hash(b) and str(a) == "x.out -> fc.in"
    assert split_address("conv1.out") == ("conv1", "out")


# ---- graph algorithms -----------------------------------------------------------------


def test_topological_order_follows_the_file_on_ties_and_is_cached():
    doc = Document()
    net = doc.add_network("main")
    for node_id in ("x", "b", "a", "add", "out"):
        block = {"x": "Input", "add": "Add", "out": "Output"}.get(node_id, "ReLU")
        net.add_node(block, node_id=node_id)
    net.connect("add.out", "out.in")
    net.connect("a.out", "add.b")
    net.connect("b.out", "add.a")
    net.connect("x.out", "a.in")
    net.connect("x.out", "b.in")
    assert net.topological_order() == ["x", "b", "a", "add", "out"]
    assert net.topological_order() is not net.topological_order()  # callers get a copy
    net.remove_node("b")
    assert net.topological_order() == ["x", "a", "add", "out"]


def test_cycles_named_in_wiring_order():
    """connect refuses cycles, but a file can hold one (and a self-loop)."""
    _, net = chain()
    net.add_node("Add", node_id="add")
    net.add_edge(Edge("relu", "out", "add", "a"))
    net.disconnect(Edge("x", "out", "fc", "in"))
    net.add_edge(Edge("add", "out", "fc", "in"))
    net.add_edge(Edge("x", "out", "add", "b"))
    assert net.cycle_nodes() == {"fc", "relu", "add"}
    assert net.cycles() == [["fc", "relu", "add"]]
    assert net.cycle_through("add") == ["add", "fc", "relu"]
    with pytest.raises(nx.NetworkXUnfeasible, match="cycle"):
        net.topological_order()
    order, left = net.ordered()
    assert order == ["x"] and left == {"fc", "relu", "add", "out"}  # out is only downstream
    assert net.ordered(skip=net.cycle_nodes())[0] == ["x", "out"]
    net.add_node("Tanh", node_id="loop")
    net.add_edge(Edge("loop", "out", "loop", "in"))
    assert net.cycle_nodes() == {"fc", "relu", "add", "loop"}
    assert ["loop"] in net.cycles()


def test_downstream():
    _, net = chain()
    assert net.downstream("fc") == {"fc", "relu", "out"}
    assert net.downstream("out") == {"out"}


def test_indexes_agree_with_the_edge_list_after_random_edits():
    """incoming/outgoing are kept as indexes for speed; they must never drift from `edges`."""
    rng = random.Random(7)
    _, net = chain()
    blocks = ["ReLU", "Linear", "Add", "Concat", "Tanh"]
    removed: list[tuple] = []
    for _ in range(400):
        action = rng.random()
        ids = list(net.nodes)
        if action < 0.25:
            net.add_node(rng.choice(blocks))
        elif action < 0.6 and len(ids) > 1:
            src, dst = rng.sample(ids, 2)
            ports = net.nodes[dst].spec.input_names({"c"}) or ["in"]
            target = f"{dst}.{rng.choice(ports)}"
            if net.nodes[src].spec.output_names() and net.can_connect(f"{src}.out", target) is None:
                net.connect(f"{src}.out", target)
        elif action < 0.75 and net.edges:
            net.disconnect(rng.choice(net.edges))
        elif action < 0.9 and len(ids) > 2:
            removed.append(net.remove_node(rng.choice(ids)))
        elif removed and removed[-1][0].id not in net.nodes:
            node, edges = removed.pop()
            net.restore_node(node, rng.randrange(len(net.nodes) + 1))
            for edge in edges:  # as undo does, where later edits left room for them
                if (net.can_connect(edge.source, edge.target) is None
                        and edge.dst_port not in net.incoming(edge.dst)):
                    net.add_edge(edge)
        for node_id in net.nodes:
            assert net.incoming(node_id) == {e.dst_port: e for e in net.edges if e.dst == node_id}
            assert net.outgoing(node_id) == [e for e in net.edges if e.src == node_id]
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(net.nodes)
        graph.add_edges_from((e.src, e.dst) for e in net.edges)
        assert nx.is_directed_acyclic_graph(graph)
        index = {n: i for i, n in enumerate(net.nodes)}
        assert net.topological_order() == list(
            nx.lexicographical_topological_sort(graph, key=index.__getitem__))


# ---- the document -------------------------------------------------------------------------


def test_document_networks_and_training():
    doc = Document("d")
    heard = []
    doc.networks_changed.sub(lambda: heard.append("networks"))
    doc.training_changed.sub(lambda key: heard.append(("training", key)))
    doc.add_network("generator")
    doc.add_network("discriminator")
    with pytest.raises(EditError, match="already exists"):
        doc.add_network("generator")
    with pytest.raises(EditError, match="identifier"):
        doc.add_network("two words")
    with pytest.raises(EditError, match="generator, discriminator"):
        doc.network("main")
    optimizer = {"name": "adam", "lr": 0.1}
    assert doc.set_training("optimizer", optimizer) is None
    optimizer["lr"] = 1.0
    assert doc.training["optimizer"]["lr"] == 0.1
    assert doc.set_training("optimizer", None) == {"name": "adam", "lr": 0.1}
    assert "optimizer" not in doc.training
    assert heard == ["networks", "networks", ("training", "optimizer"), ("training", "optimizer")]


def test_copy_is_independent_and_equal_in_the_file_format(presets_dir):
    doc = load_document(presets_dir / "gan_ring.json")  # two networks, unknown keys kept
    doc.extra["note"] = {"kept": [1, 2]}
    doc.weights = {"main": {"w": torch.ones(2)}}
    doc.train_state = {"epoch": 1}
    twin = doc.copy()
    assert document_to_json(twin) == document_to_json(doc)
    assert twin.path == doc.path and twin.weights == {} and twin.train_state == {}
    heard: list[str] = []
    twin.changed.sub(lambda: heard.append("twin"))
    name = "generator"
    first = next(iter(doc.network(name).nodes))
    doc.network(name).move(first, (-999, -999))
    doc.extra["note"]["kept"].append(3)
    assert twin.network(name).nodes[first].pos != (-999, -999) and heard == []
    assert twin.extra["note"]["kept"] == [1, 2]
    stateful = doc.copy(with_state=True)
    stateful.weights["main"]["w"].add_(1)
    assert doc.weights["main"]["w"].tolist() == [1.0, 1.0] and stateful.train_state == {"epoch": 1}


@pytest.mark.parametrize(("training", "state", "expected"), [
    ({"task": "classification", "epochs": 5}, {}, False),  # never trained
    ({"task": "classification", "epochs": 5}, {"epoch": 3}, True),
    ({"task": "classification", "epochs": 5}, {"epoch": 5}, False),  # all epochs done
    ({"task": "dqn", "epochs": 5, "dqn": {"episodes": 300}}, {"epoch": 120}, True),
    ({"task": "dqn", "epochs": 500, "dqn": {"episodes": 300}}, {"epoch": 300}, False),
    ({"task": "q_learning", "epochs": 10}, {"epoch": 4}, True),
    ({"task": "classification", "epochs": "many"}, {"epoch": 1}, False),  # a bad value
])
def test_can_resume_compares_the_epochs_done_with_those_planned(training, state, expected):
    doc = Document("d")
    doc.training, doc.train_state = training, state
    assert doc.can_resume() is expected


def test_an_id_with_a_trailing_newline_is_refused():
    """IDENTIFIER ended in `$`, which also matches before a final newline: "fc\\n" got in."""
    import pytest

    from engine.document import Document
    from engine.errors import NetCanvasError

    net = Document("d").add_network("main")
    with pytest.raises(NetCanvasError):
        net.add_node("Linear", {}, (0, 0), "fc\n")
    net.add_node("Linear", {}, (0, 0), "fc")
