"""The compiler: a checked network becomes a real, readable torch.fx.GraphModule.

What a person draws must train exactly like the same model written by hand,
read like hand-written code, and survive TorchScript and fx retracing (the
exporters build on those), or be refused with the checker's own messages.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

import engine
from engine.cli import main as cli_main
from engine.compiler import attribute_names, compile_network, count_parameters, layer_names, network_report
from engine.document import Document, Network
from engine.errors import GraphError
from engine.readwrite import save_document
from engine.shapes import NetworkChecker

ROOT = Path(__file__).resolve().parent.parent


def build(*nodes: tuple, edges: tuple[str, ...] = (), name: str = "main") -> Document:
    """nodes as (id, block, params); edges as "a.out->b.in"."""
    doc = Document("t")
    net = doc.add_network(name)
    for node_id, block, *params in nodes:
        net.add_node(block, params[0] if params else {}, node_id=node_id)
    for edge in edges:
        source, target = edge.split("->")
        net.connect(source, target)
    return doc


def lenet() -> Document:
    return build(
        ("x", "Input", {"shape": [1, 28, 28]}),
        ("conv1", "Conv2d", {"out_channels": 20, "kernel_size": 5}), ("relu1", "ReLU"),
        ("pool1", "MaxPool2d", {"kernel_size": 2}),
        ("conv2", "Conv2d", {"out_channels": 50, "kernel_size": 5}), ("relu2", "ReLU"),
        ("pool2", "MaxPool2d", {"kernel_size": 2}), ("flatten", "Flatten"),
        ("fc1", "Linear", {"out_features": 500}), ("relu3", "ReLU"),
        ("fc2", "Linear", {"out_features": 10}), ("log_softmax", "LogSoftmax", {"dim": 1}),
        ("out", "Output"),
        edges=("x.out->conv1.in", "conv1.out->relu1.in", "relu1.out->pool1.in", "pool1.out->conv2.in",
               "conv2.out->relu2.in", "relu2.out->pool2.in", "pool2.out->flatten.in",
               "flatten.out->fc1.in", "fc1.out->relu3.in", "relu3.out->fc2.in",
               "fc2.out->log_softmax.in", "log_softmax.out->out.in"),
    )


class SimpleCNN(nn.Module):
    """The seed's LeNet-style network, as in PyTorch's MNIST example."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(4 * 4 * 50, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.view(-1, 4 * 4 * 50)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


def test_lenet_matches_the_hand_written_simple_cnn():
    torch.manual_seed(0)
    model = compile_network(lenet(), "main")
    hand = SimpleCNN()
    assert count_parameters(model) == count_parameters(hand) == 431_080
    model.load_state_dict(hand.state_dict())  # same names (node ids), same shapes
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(model(x), hand(x))
    assert type(model).__name__ == "Main"


def test_code_has_one_line_per_block_named_by_node_id():
    doc = lenet()
    code = compile_network(doc).code
    assert "def forward(self, x):" in code
    net = doc.network("main")
    for node_id, node in net.nodes.items():
        if node.block in ("Input", "Output"):
            continue
        lines = [line for line in code.splitlines() if re.match(rf"\s*{node_id} = self\.{node_id}\(", line)]
        assert len(lines) == 1, (node_id, code)
    assert "return log_softmax" in code
    calls = re.findall(r"= self\.(\w+)\(", code)
    assert calls == [n for n in net.topological_order() if net.nodes[n].block not in ("Input", "Output")]


def test_multi_output_blocks_lstm_state_and_attention_weights():
    doc = build(
        ("x", "Input", {"shape": [5, 3]}), ("lstm", "LSTM", {"hidden_size": 8, "num_layers": 2}),
        ("attn", "MultiheadAttention", {"num_heads": 2}), ("last", "TakeLast"),
        ("y", "Output"), ("h", "Output"), ("c", "Output"), ("w", "Output"),
        edges=("x.out->lstm.in", "lstm.out->attn.query", "attn.out->last.in", "last.out->y.in",
               "lstm.h->h.in", "lstm.c->c.in", "attn.weights->w.in"),
    )
    model = compile_network(doc).eval()
    code = model.code
    assert "lstm_h_c = lstm[1]" in code  # the (h, c) tuple is taken apart once
    assert "lstm_h = lstm_h_c[0]" in code and "lstm_c = lstm_h_c[1]" in code
    assert "attn_weights = attn[1]" in code
    x = torch.randn(3, 5, 3)
    y, h, c, w = model(x)
    report = engine.check(doc).networks["main"]
    assert tuple(y.shape) == (3, 8) and tuple(w.shape) == (3, 5, 5)
    assert tuple(h.shape) == tuple(c.shape) == (2, 3, 8)
    assert report.nodes["h"].inputs["in"] == (2, None, 8)
    out, (h_ref, c_ref) = model.lstm(x)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)
    attended, weights = model.attn(out, out, out)
    torch.testing.assert_close(w, weights)
    torch.testing.assert_close(y, attended[:, -1])


def test_graph_with_errors_is_refused_with_the_check_messages():
    doc = build(("x", "Input", {"shape": [32]}), ("conv", "Conv2d"), ("add", "Add"), ("out", "Output"),
                edges=("x.out->conv.in", "conv.out->add.a", "add.out->out.in"))
    with pytest.raises(GraphError) as info:
        compile_network(doc, "main")
    message = str(info.value)
    for line in engine.check(doc).errors:
        assert line in message
    assert "main.conv (Conv2d): Conv2d expects N×C×H×W" in message
    assert "main.add (Add): input 'b' is not connected" in message
    with pytest.raises(engine.EditError, match="no network 'other'"):
        compile_network(doc, "other")


def test_inputs_become_placeholders_in_file_order():
    doc = build(("adj", "Input", {"shape": [6, 6], "batched": False, "source": "adjacency"}),
                ("feat", "Input", {"shape": [6, 3], "batched": False, "source": "features"}),
                ("gc", "GraphConv", {"out_features": 4}), ("out", "Output"),
                edges=("adj.out->gc.adjacency", "feat.out->gc.features", "gc.out->out.in"))
    model = compile_network(doc)
    assert [n.name for n in model.graph.nodes if n.op == "placeholder"] == ["adj", "feat"]
    adjacency = (torch.rand(6, 6) < 0.5).float()
    features = torch.randn(6, 3)
    torch.testing.assert_close(model(adjacency, features), model.gc(adjacency, features))


def test_ids_that_would_break_the_code_are_renamed_in_the_module():
    doc = build(("self", "Input", {"shape": [4]}), ("class", "Linear", {"out_features": 4}),
                ("training", "ReLU"), ("forward", "Add"), ("out", "Output"),
                edges=("self.out->class.in", "class.out->training.in", "training.out->forward.a",
                       "self.out->forward.b", "forward.out->out.in"))
    model = compile_network(doc)
    assert model.meta["submodules"] == {"class": "class_", "training": "training_", "forward": "forward_"}
    assert model.meta["inputs"] == ["self"]
    assert [n.target for n in model.graph.nodes if n.op == "placeholder"] == ["self_"]
    assert compile_network(lenet()).meta["submodules"]["conv1"] == "conv1"
    assert model.training is True and isinstance(model.get_submodule("class_"), nn.Linear)
    x = torch.randn(2, 4)
    torch.testing.assert_close(model(x), torch.relu(model.class_(x)) + x)
    assert attribute_names(["a", "self", "self_"]) == {"a": "a", "self": "self__", "self_": "self_"}


def test_trained_weights_in_the_document_are_loaded():
    doc = lenet()
    hand = SimpleCNN()
    doc.weights["main"] = hand.state_dict()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(compile_network(doc)(x), hand(x))
    fresh = compile_network(doc, trained=False)
    assert not torch.equal(fresh.fc2.weight, hand.fc2.weight)


# ---- TorchScript, tracing and fx retracing -------------------------------------------------

NETWORKS = {
    "lenet": (lenet, lambda: (torch.randn(2, 1, 28, 28),)),
    "mlp_residual": (lambda: build(
        ("x", "Input", {"shape": [6]}), ("fc", "Linear", {"out_features": 6}), ("norm", "LayerNorm"),
        ("act", "GELU"), ("add", "Add"), ("gate", "Sigmoid"), ("mul", "Multiply"),
        ("cat", "Concat", {"dim": 1}), ("drop", "Dropout"), ("bn", "BatchNorm1d"), ("step", "Step"),
        ("sm", "Softmax"), ("out", "Output"),
        edges=("x.out->fc.in", "fc.out->norm.in", "norm.out->act.in", "act.out->add.a", "x.out->add.b",
               "add.out->gate.in", "gate.out->mul.a", "add.out->mul.b", "mul.out->cat.a", "x.out->cat.b",
               "x.out->cat.c", "cat.out->drop.in", "drop.out->bn.in", "bn.out->step.in",
               "step.out->sm.in", "sm.out->out.in")),
        lambda: (torch.randn(3, 6),)),
    "conv_autoencoder": (lambda: build(
        ("x", "Input", {"shape": [1, 8, 8]}), ("enc", "Conv2d", {"out_channels": 4, "padding": 1}),
        ("bn", "BatchNorm2d"), ("lrelu", "LeakyReLU"), ("pool", "AvgPool2d"),
        ("up", "Upsample"), ("dec", "ConvTranspose2d", {"out_channels": 1, "padding": 1}),
        ("tanh", "Tanh"), ("flat", "Flatten"), ("reshape", "Reshape", {"shape": [1, 8, 8]}),
        ("out", "Output"),
        edges=("x.out->enc.in", "enc.out->bn.in", "bn.out->lrelu.in", "lrelu.out->pool.in",
               "pool.out->up.in", "up.out->dec.in", "dec.out->tanh.in", "tanh.out->flat.in",
               "flat.out->reshape.in", "reshape.out->out.in")),
        lambda: (torch.randn(2, 1, 8, 8),)),
    "sequence": (lambda: build(
        ("x", "Input", {"shape": [7, 2]}), ("conv", "Conv1d", {"out_channels": 7, "kernel_size": 1}),
        ("rnn", "RNN", {"hidden_size": 4}), ("gru", "GRU", {"hidden_size": 4, "bidirectional": True}),
        ("lstm", "LSTM", {"hidden_size": 4}), ("last", "TakeLast"), ("y", "Output"), ("h", "Output"),
        edges=("x.out->conv.in", "conv.out->rnn.in", "rnn.out->gru.in", "gru.out->lstm.in",
               "lstm.out->last.in", "last.out->y.in", "gru.h->h.in")),
        lambda: (torch.randn(3, 7, 2),)),
    "transformer": (lambda: build(
        ("tokens", "Input", {"shape": [6]}), ("emb", "Embedding", {"num_embeddings": 10, "embedding_dim": 8}),
        ("pos", "PositionalEncoding"), ("enc", "TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16}),
        ("sdpa", "ScaledDotProductAttention", {"causal": True}), ("fc", "Linear", {"out_features": 10}),
        ("logp", "LogSoftmax"), ("out", "Output"), ("w", "Output"),
        edges=("tokens.out->emb.in", "emb.out->pos.in", "pos.out->enc.in", "enc.out->sdpa.query",
               "sdpa.out->fc.in", "fc.out->logp.in", "logp.out->out.in", "sdpa.weights->w.in")),
        lambda: (torch.randint(0, 10, (2, 6)),)),
}


def _outputs(value) -> tuple[torch.Tensor, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning",
                            "ignore:The TorchScript type system:UserWarning")
@pytest.mark.parametrize("name", list(NETWORKS))
def test_compiled_modules_script_trace_and_retrace(name: str):
    make_doc, make_inputs = NETWORKS[name]
    doc = make_doc()
    assert engine.check(doc).ok, engine.check(doc).errors
    torch.manual_seed(0)
    model = compile_network(doc).eval()
    inputs = make_inputs()
    expected = _outputs(model(*inputs))
    for port, tensor in zip([e for e in doc.network("main").nodes.values() if e.block == "Output"],
                            expected, strict=True):
        edge = doc.network("main").incoming(port.id)["in"]
        shape = engine.check(doc).networks["main"].edges[edge]
        assert tensor.dim() == len(shape)
    retraced = fx.symbolic_trace(model)
    traced = torch.jit.trace(model, inputs, check_trace=False)
    scripted = torch.jit.script(model)
    for variant in (retraced, traced, scripted):
        for got, want in zip(_outputs(variant(*inputs)), expected, strict=True):
            torch.testing.assert_close(got, want)


def test_compiled_module_trains():
    """Gradients reach every parameter: nothing in the graph is detached."""
    model = compile_network(NETWORKS["transformer"][0]())
    out, weights = model(torch.randint(0, 10, (2, 6)))
    (out.sum() + weights.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())


# ---- netcanvas check --------------------------------------------------------------------------


def test_cli_check_on_the_preset(capsys: pytest.CaptureFixture[str]):
    assert cli_main(["check", str(ROOT / "presets" / "lenet_digits.json")]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "N×20×24×24" in out and "431,080" in out
    assert "total: 431,080 parameters" in out and "OK: no errors" in out


def test_cli_check_on_a_broken_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    doc = build(("x", "Input", {"shape": [32]}), ("conv", "Conv2d"), ("out", "Output"),
                edges=("x.out->conv.in", "conv.out->out.in"))
    save_document(doc, tmp_path / "broken.json")
    assert cli_main(["check", str(tmp_path / "broken.json")]) == 1
    out = capsys.readouterr().out
    assert "ERROR Conv2d expects N×C×H×W on 'in', got N×32" in out
    assert "1 error(s)" in out


def test_cli_check_on_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "bad.json").write_text('{"networks": {"main": {"nodes": [{"id": "x", "block": "Conv9d"}]}}}')
    assert cli_main(["check", str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert "networks.main.nodes[0].block" in err and "unknown block 'Conv9d'" in err
    assert "Traceback" not in err


def test_network_helper_types():
    assert isinstance(lenet().network("main"), Network)


# ---- random networks: every edge's inferred shape is what the compiled module computes ----

RANDOM_PARAMS: dict[str, dict[str, list]] = {
    "Linear": {"out_features": [1, 3, 8]},
    "Flatten": {"start_dim": [0, 1, 2, -2], "end_dim": [-1, 1, 2]},
    "Reshape": {"shape": [[-1], [2, -1], [-1, 4], [4]]},
    "Dropout": {}, "BatchNorm1d": {}, "BatchNorm2d": {}, "LayerNorm": {}, "ReLU": {}, "Step": {},
    "Softmax": {"dim": [0, 1, -1, 2]},
    "Conv1d": {"out_channels": [2, 4], "kernel_size": [1, 2, 3], "stride": [1, 2], "padding": [0, 1],
               "dilation": [1, 2]},
    "Conv2d": {"out_channels": [2, 4], "kernel_size": [1, 2, 3], "stride": [1, 2], "padding": [0, 1],
               "dilation": [1, 2]},
    "ConvTranspose2d": {"out_channels": [2], "kernel_size": [1, 2, 3], "stride": [1, 2], "padding": [0, 1],
                        "output_padding": [0, 1]},
    "MaxPool2d": {"kernel_size": [1, 2, 3], "stride": [0, 1, 2], "padding": [0, 1]},
    "AvgPool2d": {"kernel_size": [1, 2, 3], "stride": [0, 1, 2], "padding": [0, 1]},
    "Upsample": {"scale_factor": [0.5, 1.5, 2.0], "mode": ["nearest", "bilinear"]},
    "RNN": {"hidden_size": [4], "bidirectional": [True, False], "batch_first": [True, False]},
    "LSTM": {"hidden_size": [4], "bidirectional": [True, False], "batch_first": [True, False],
             "num_layers": [1, 2]},
    "GRU": {"hidden_size": [4], "batch_first": [True, False]},
    "TakeLast": {}, "PositionalEncoding": {"max_len": [4, 64]},
    "MultiheadAttention": {"num_heads": [1, 2]}, "ScaledDotProductAttention": {"causal": [True, False]},
    "TransformerEncoderLayer": {"nhead": [1, 2], "dim_feedforward": [8]},
    "Add": {}, "Multiply": {}, "Concat": {"dim": [0, 1, -1, 2]},
}


def random_network(seed: int) -> tuple[Document, list[int]]:
    """Blocks added one by one, each wired to random earlier outputs, kept only if it checks."""
    rng = random.Random(seed)
    doc = Document()
    net = doc.add_network("main")
    shape = [rng.randint(1, 6) for _ in range(rng.randint(1, 4))]
    net.add_node("Input", {"shape": shape}, node_id="x")
    checker = NetworkChecker(net, dict)
    for _ in range(12):
        block = rng.choice(list(RANDOM_PARAMS))
        params = {k: rng.choice(v) for k, v in RANDOM_PARAMS[block].items() if rng.random() < 0.7}
        node = net.add_node(block, params)
        sources = [(n, p) for n, r in checker.report().nodes.items() for p in r.outputs]
        for port in node.spec.inputs:
            if not (port.optional and rng.random() < 0.5):
                src, src_port = rng.choice(sources)
                net.connect(f"{src}.{src_port}", f"{node.id}.{port.name}")
        if checker.report().nodes[node.id].errors:
            net.remove_node(node.id)
    last = list(net.nodes)[-1]
    net.add_node("Output", node_id="out")
    net.connect(f"{last}.{net.nodes[last].spec.output_names()[0]}", "out.in")
    checker.close()
    return doc, shape


def test_random_networks_shapes_match_a_real_run():
    torch.manual_seed(0)
    checked = 0
    for seed in range(30):
        doc, shape = random_network(seed)
        report = engine.check(doc).networks["main"]
        assert report.ok, report.errors
        model = compile_network(doc).eval()
        ShapeProp(model).propagate(torch.randn(3, *shape))
        produced = {n.name: tuple(n.meta["tensor_meta"].shape) for n in model.graph.nodes
                    if isinstance(n.meta.get("tensor_meta"), TensorMetadata)}
        net = doc.network("main")
        for node_id, node_report in report.nodes.items():
            attr = model.meta["submodules"].get(node_id)
            for port, rule in node_report.outputs.items():
                name = attr if not net.nodes[node_id].spec.output_paths else f"{attr}_{port}"
                if attr is None or name not in produced:
                    continue  # an Input, or an output nobody wired
                real = produced[name]
                assert len(real) == len(rule), (seed, node_id, port, rule, real)
                for got, want in zip(real, rule, strict=True):
                    assert got == (3 if want is None else want), (seed, node_id, port, rule, real)
                checked += 1
    assert checked > 100


def test_the_compiled_module_carries_its_check_report() -> None:
    model = compile_network(lenet())
    report = network_report(model)
    assert report is model.meta["report"] and report.ok
    assert report.nodes["conv1"].outputs["out"] == (None, 20, 24, 24)
    assert layer_names(model)["conv1"] == "conv1"
