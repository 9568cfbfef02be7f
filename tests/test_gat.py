"""GATConv computes the paper's graph attention, in both of its forms, and exports.

The module runs a per-edge (sparse) form eagerly and a dense V×V form when
TorchScript, ONNX or torch.export record it; both are held here to a plain
per-node loop over each neighbourhood, written from Veličković et al. (2018).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import engine
from engine.blocks.modules import GATConv
from engine.export import export_onnx, export_pt2, export_torchscript, prepare
from tests.test_export import finish, reference, trained


def paper(module: GATConv, adjacency: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Eq. 1-4 of the paper, one node and one head at a time (unbatched)."""
    nodes, heads, width = adjacency.shape[0], module.heads, module.out_features
    h = (features @ module.linear.weight.T).view(nodes, heads, width)
    out = torch.zeros(nodes, heads, width)
    for head in range(heads):
        for i in range(nodes):
            neighbours = [j for j in range(nodes)
                          if adjacency[i, j] != 0 or (module.add_self_loops and i == j)]
            if not neighbours:
                continue  # nothing to attend to: the node gets only the bias
            scores = torch.stack([F.leaky_relu(module.att_dst[head] @ h[i, head]
                                               + module.att_src[head] @ h[j, head],
                                               module.negative_slope) for j in neighbours])
            alpha = torch.softmax(scores, 0)
            out[i, head] = sum(a * h[j, head] for a, j in zip(alpha, neighbours, strict=True))
    out = out.reshape(nodes, heads * width) if module.concat else out.mean(1)
    return out + (module.bias if module.bias is not None else 0)


def graph(nodes: int = 7, seed: int = 0, isolated: int | None = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    adjacency = (torch.rand(nodes, nodes, generator=generator) < 0.35).float()
    if isolated is not None:
        adjacency[isolated] = 0  # a node without neighbours (and, without self loops, no edge)
    return adjacency


SETTINGS = [
    {"heads": 3},
    {"heads": 2, "concat": False, "bias": False},
    {"heads": 1, "add_self_loops": False, "negative_slope": 0.05},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_both_forms_compute_the_papers_attention(settings: dict) -> None:
    torch.manual_seed(1)
    module = GATConv(5, 4, **settings).eval()
    with torch.no_grad():
        module.bias is not None and module.bias.uniform_(-1, 1)  # a visible bias
    adjacency, features = graph(), torch.randn(7, 5)
    expected = paper(module, adjacency, features)
    with torch.no_grad():
        eager = module(adjacency, features)
        scripted = torch.jit.script(module)(adjacency, features)
    torch.testing.assert_close(eager, expected)
    torch.testing.assert_close(scripted, expected)
    assert torch.isfinite(eager).all()


def test_batched_graphs_are_attended_each_on_its_own() -> None:
    torch.manual_seed(2)
    module = GATConv(3, 2, heads=2).eval()
    adjacency = torch.stack([graph(6, seed) for seed in range(4)])
    features = torch.randn(4, 6, 3)
    with torch.no_grad():
        eager = module(adjacency, features)
        scripted = torch.jit.script(module)(adjacency, features)
        for i in range(4):
            torch.testing.assert_close(eager[i], paper(module, adjacency[i], features[i]))
    torch.testing.assert_close(scripted, eager)


def test_the_two_forms_give_the_same_gradients() -> None:
    torch.manual_seed(3)
    module = GATConv(5, 3, heads=2, concat=False, add_self_loops=False)
    scripted = torch.jit.script(module)
    adjacency, features = graph(), torch.randn(7, 5)
    eager = torch.autograd.grad(module(adjacency, features).square().sum(), list(module.parameters()))
    dense = torch.autograd.grad(scripted(adjacency, features).square().sum(),
                                list(scripted.parameters()))
    for a, b in zip(eager, dense, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)


def test_only_where_the_adjacency_is_non_zero_matters() -> None:
    """Attention replaces the edge weights: a weighted adjacency attends over the same edges."""
    module = GATConv(4, 3, heads=2).eval()
    adjacency, features = graph(), torch.randn(7, 4)
    weighted = adjacency * torch.rand(7, 7).add(0.5) * 3
    with torch.no_grad():
        torch.testing.assert_close(module(weighted, features), module(adjacency, features))


def test_the_last_attention_is_kept_per_edge_and_sums_to_one_per_node() -> None:
    module = GATConv(4, 2, heads=3).eval()
    adjacency = graph(isolated=None)
    with torch.no_grad():
        module(adjacency, torch.randn(7, 4))
    index, weights = module.last_attention
    expected = (adjacency + torch.eye(7)).nonzero()
    assert torch.equal(index, expected)
    assert weights.shape == (len(expected), 3) and not weights.requires_grad
    sums = torch.zeros(7, 3).index_add_(0, index[:, 0], weights)
    torch.testing.assert_close(sums, torch.ones(7, 3))


def test_attention_dropout_applies_only_in_training() -> None:
    torch.manual_seed(4)
    module = GATConv(4, 3, heads=2, dropout=0.6)
    adjacency, features = graph(isolated=None), torch.randn(7, 4)
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(adjacency, features), module(adjacency, features))
        module.train()
        assert not torch.equal(module(adjacency, features), module(adjacency, features))
        kept = module.last_attention[1]  # kept before dropout: still a distribution per node
        sums = torch.zeros(7, 2).index_add_(0, module.last_attention[0][:, 0], kept)
        torch.testing.assert_close(sums, torch.ones(7, 2))


# ---- export: the dense form, recorded by every exporter ---------------------------------


def gat_doc(batched: bool) -> engine.Document:
    """Two GAT layers as the presets wire them (heads concatenated, then averaged)."""
    doc = engine.Document("graph attention")
    net = doc.add_network("main")
    net.add_node("Input", {"source": "adjacency", "shape": [6, 6], "batched": batched},
                 node_id="adj")
    net.add_node("Input", {"source": "features", "shape": [6, 4], "batched": batched},
                 node_id="feat")
    net.add_node("GATConv", {"out_features": 3, "heads": 4, "dropout": 0.6}, node_id="gat1")
    net.add_node("ReLU", node_id="act")
    net.add_node("GATConv", {"out_features": 2, "heads": 2, "concat": False}, node_id="gat2")
    net.connect("adj.out", "gat1.adjacency")
    net.connect("feat.out", "gat1.features")
    net.connect("gat1.out", "act.in")
    net.connect("adj.out", "gat2.adjacency")
    net.connect("act.out", "gat2.features")
    finish(net, "gat2", "scores")
    return doc


@pytest.mark.parametrize("batched", [False, True], ids=["one graph", "a batch of graphs"])
def test_onnx_torchscript_and_pt2_reproduce_the_eager_outputs(tmp_path: Path, batched: bool) -> None:
    import onnx
    import onnxruntime

    doc = trained(gat_doc(batched))
    assert engine.check(doc).ok
    prep = prepare(doc, "main")
    onnx_file = export_onnx(doc, "main", tmp_path / "gat.onnx")
    assert "onnxruntime matches" in onnx_file.note
    ops = {node.op_type for node in onnx.load(onnx_file.path).graph.node}
    assert "NonZero" not in ops  # the dense form: no edge list baked in or computed
    session = onnxruntime.InferenceSession(str(onnx_file.path), providers=["CPUExecutionProvider"])
    scripted = torch.jit.load(str(export_torchscript(doc, "main", tmp_path / "gat.pt").path))
    program = torch.export.load(str(export_pt2(doc, "main", tmp_path / "gat.pt2").path)).module()
    for batch, seed in ((1, 10), (5, 11)):  # other graphs than the traced one
        inputs = prep.example(batch, seed)
        expected = reference(doc, "main", inputs)[0]
        got = session.run(None, {i: x.numpy() for i, x in zip(prep.inputs, inputs, strict=True)})[0]
        assert np.abs(expected.numpy() - got).max() <= 1e-4
        with torch.no_grad():
            torch.testing.assert_close(scripted(*inputs), expected)
            torch.testing.assert_close(program(*inputs), expected)


# ---- the attention the Training view draws ----------------------------------------------


def test_a_watched_gat_layer_reports_its_attention_per_edge() -> None:
    from engine.presets import load_preset
    from engine.training import Activations, make_trainer
    from engine.training.graph_attention import EdgeAttention, graph_layout

    doc = load_preset("gat_karate")
    doc.training["device"] = "cpu"
    events = make_trainer(doc, epochs=2, watch=["gat1", "relu"], activation_interval=0.0).run()
    captured = [e for e in events if isinstance(e, Activations)][-1].tensors
    assert isinstance(captured["relu"], np.ndarray)  # other blocks: their output, as before
    attention = captured["gat1"]
    assert isinstance(attention, EdgeAttention) and attention.nodes == 34 and attention.heads == 8
    import networkx as nx

    friendships = {frozenset(edge) for edge in nx.karate_club_graph().edges}
    pairs = {frozenset((int(i), int(j))) for i, j in zip(attention.sources, attention.targets,
                                                         strict=True) if i != j}
    assert pairs == friendships and (attention.sources == attention.targets).sum() == 34
    per_node = np.zeros((8, 34))
    np.add.at(per_node.T, attention.sources, attention.weights.T)
    assert np.allclose(per_node, 1.0, atol=1e-5)
    layout = graph_layout(attention)
    assert layout.shape == (34, 2) and np.isfinite(layout).all() and np.abs(layout).max() <= 1.0 + 1e-6


def test_a_batch_of_graphs_reports_the_first() -> None:
    from engine.training.graph_attention import edge_attention

    module = GATConv(3, 2, heads=2).eval()
    adjacency = torch.stack([graph(5, seed, isolated=None) for seed in range(3)])
    with torch.no_grad():
        module(adjacency, torch.randn(3, 5, 3))
    attention = edge_attention(module.last_attention, nodes=5)
    first = (adjacency[0] + torch.eye(5)).nonzero()
    assert attention.sources.tolist() == first[:, 0].tolist()
    assert attention.targets.tolist() == first[:, 1].tolist()
    assert attention.weights.shape == (2, len(first))


def test_an_exported_model_py_imports_back_to_gat_blocks(tmp_path: Path) -> None:
    from engine.export import export_python
    from engine.importer import import_module
    from tests.test_import import blocks, load_generated

    doc = trained(gat_doc(batched=True))
    exported = load_generated(export_python(doc, tmp_path / "rt").path).eval()
    again = import_module(exported, {"adj": (6, 6), "feat": (6, 4)})
    assert blocks(again) == blocks(doc)
    params = [n.params for n in again.network().nodes.values() if n.block == "GATConv"]
    assert params == [{"out_features": 3, "heads": 4, "dropout": 0.6},
                      {"out_features": 2, "heads": 2, "concat": False}]
    inputs = prepare(doc, "main").example(3, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(engine.compile_network(again).eval()(*inputs), exported(*inputs))
