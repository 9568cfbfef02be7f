"""Export: ONNX against onnxruntime, TorchScript and PyTorch source without NetCanvas."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine.blocks import CATALOGUE
from engine.errors import NetCanvasError
from engine.export import (
    export_document,
    export_onnx,
    export_pt2,
    export_python,
    export_torchscript,
    prepare,
)

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted((ROOT / "presets").glob("*.json"))


# ---- documents built with the engine's own API -----------------------------------------


def chain(net: engine.Network, names: list[str], start: str) -> str:
    for a, b in zip([start, *names], names, strict=False):
        net.connect(f"{a}.out", f"{b}.in")
    return names[-1]


def add_chain(net: engine.Network, start: str, layers: list[tuple[str, str, dict]]) -> str:
    for node_id, block, params in layers:
        net.add_node(block, params, node_id=node_id)
    return chain(net, [n for n, _, _ in layers], start)


def finish(net: engine.Network, last: str, out: str = "out") -> None:
    net.add_node("Output", node_id=out)
    net.connect(f"{last}.out", f"{out}.in")


def mlp_doc() -> engine.Document:
    """An MLP with a multiplicative gate (Multiply) and Dropout."""
    doc = engine.Document("gated mlp")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [6]}, node_id="features")
    hidden = add_chain(net, "features", [("fc1", "Linear", {"out_features": 16}),
                                         ("act", "Tanh", {})])
    gate = add_chain(net, "features", [("gate_fc", "Linear", {"out_features": 16}),
                                       ("gate", "Sigmoid", {})])
    net.add_node("Multiply", node_id="gated")
    net.connect(f"{hidden}.out", "gated.a")
    net.connect(f"{gate}.out", "gated.b")
    last = add_chain(net, "gated", [("drop", "Dropout", {"p": 0.3}),
                                    ("fc2", "Linear", {"out_features": 3})])
    finish(net, last, "scores")
    return doc


def lstm_doc() -> engine.Document:
    doc = engine.Document("lstm")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [7, 5]}, node_id="seq")
    last = add_chain(net, "seq", [("lstm", "LSTM", {"hidden_size": 12, "num_layers": 2}),
                                  ("last", "TakeLast", {}), ("fc", "Linear", {"out_features": 3})])
    finish(net, last)
    return doc


def transformer_doc() -> engine.Document:
    """Tokens -> embedding -> encoder layer -> attention with a residual, a concat, two outputs."""
    doc = engine.Document("tiny transformer")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [10]}, node_id="tokens")
    x = add_chain(net, "tokens", [
        ("embed", "Embedding", {"num_embeddings": 20, "embedding_dim": 16}),
        ("pos", "PositionalEncoding", {"max_len": 32}),
        ("encoder", "TransformerEncoderLayer", {"nhead": 4, "dim_feedforward": 32}),
    ])
    net.add_node("MultiheadAttention", {"num_heads": 2}, node_id="attn")
    net.connect(f"{x}.out", "attn.query")
    net.add_node("Add", node_id="residual")
    net.connect("attn.out", "residual.a")
    net.connect(f"{x}.out", "residual.b")
    net.add_node("LayerNorm", node_id="norm")
    net.connect("residual.out", "norm.in")
    net.add_node("Concat", {"dim": -1}, node_id="both")
    net.connect("norm.out", "both.a")
    net.connect("pos.out", "both.b")
    last = add_chain(net, "both", [("head", "Linear", {"out_features": 20})])
    finish(net, last, "logits")
    net.add_node("Output", node_id="attention")
    net.connect("attn.weights", "attention.in")
    return doc


def zoo_doc() -> engine.Document:
    """Every other block, a network per family, so PyTorch source covers the catalogue."""
    doc = engine.Document('zoo "all blocks"')
    conv = doc.add_network("conv")
    conv.add_node("Input", {"shape": [1, 8, 8]}, node_id="image")
    finish(conv, add_chain(conv, "image", [
        ("conv", "Conv2d", {"out_channels": 4, "padding": 1}), ("bn", "BatchNorm2d", {}),
        ("leaky", "LeakyReLU", {"negative_slope": 0.1}), ("avg", "AvgPool2d", {}),
        ("up", "ConvTranspose2d", {"out_channels": 2, "kernel_size": 2, "stride": 2}),
        ("resize", "Upsample", {"mode": "bilinear"}), ("squash", "Sigmoid", {}),
        ("reshape", "Reshape", {"shape": [2, -1]}), ("drop", "Dropout", {}),
        ("softmax", "Softmax", {"dim": -1}),
    ]))
    signal = doc.add_network("signal")
    signal.add_node("Input", {"shape": [3, 20]}, node_id="x")
    finish(signal, add_chain(signal, "x", [
        ("conv", "Conv1d", {"out_channels": 4, "kernel_size": 5, "stride": 2}),
        ("bn", "BatchNorm1d", {}), ("flat", "Flatten", {}), ("fc", "Linear", {"out_features": 1}),
        ("step", "Step", {}),
    ]))
    seq = doc.add_network("seq")
    seq.add_node("Input", {"shape": [6, 8]}, node_id="x")
    gru = add_chain(seq, "x", [("gru", "GRU", {"hidden_size": 8, "bidirectional": True}),
                               ("rnn", "RNN", {"hidden_size": 8, "nonlinearity": "relu"})])
    seq.add_node("ScaledDotProductAttention", {"causal": True}, node_id="sdpa")
    seq.connect(f"{gru}.out", "sdpa.query")
    finish(seq, add_chain(seq, "sdpa", [("gelu", "GELU", {})]))
    graph = doc.add_network("graph")
    graph.add_node("Input", {"source": "adjacency", "shape": [5, 5], "batched": False}, node_id="adj")
    graph.add_node("Input", {"source": "features", "shape": [5, 3], "batched": False}, node_id="feat")
    graph.add_node("GraphConv", {"out_features": 4}, node_id="gc")
    graph.connect("adj.out", "gc.adjacency")
    graph.connect("feat.out", "gc.features")
    graph.add_node("GATConv", {"out_features": 3, "heads": 2, "concat": False, "dropout": 0.5},
                   node_id="gat")
    graph.connect("adj.out", "gat.adjacency")
    graph.connect("gc.out", "gat.features")
    finish(graph, "gat")
    return doc


def gan_doc() -> engine.Document:
    doc = engine.Document("gan")
    gen = doc.add_network("generator")
    gen.add_node("Input", {"source": "noise", "shape": [8]}, node_id="noise")
    finish(gen, add_chain(gen, "noise", [("fc1", "Linear", {"out_features": 16}), ("relu", "ReLU", {}),
                                         ("fc2", "Linear", {"out_features": 4}), ("tanh", "Tanh", {})]),
           "fake")
    dis = doc.add_network("discriminator")
    dis.add_node("Input", {"shape": [4]}, node_id="x")
    finish(dis, add_chain(dis, "x", [("fc1", "Linear", {"out_features": 16}),
                                     ("leaky", "LeakyReLU", {"negative_slope": 0.2}),
                                     ("fc2", "Linear", {"out_features": 1}), ("real", "Sigmoid", {})]),
           "p_real")
    return doc


def trained(doc: engine.Document) -> engine.Document:
    """Stand-in for a training run: weights that differ from any fresh initialisation."""
    generator = torch.Generator().manual_seed(123)
    for name in doc.networks:
        state = engine.compile_network(doc, name, trained=False).state_dict()
        doc.weights[name] = {
            k: v + 0.05 * torch.randn(v.shape, generator=generator) if v.is_floating_point()
            and "running" not in k else v for k, v in state.items()}
    return doc


def lenet() -> engine.Document:
    return engine.load_document(ROOT / "presets" / "lenet_digits.json")


NETWORKS = {"lenet": lenet, "mlp": mlp_doc, "lstm": lstm_doc, "transformer": transformer_doc}


def reference(doc: engine.Document, network: str, inputs) -> list[torch.Tensor]:
    module = engine.compile_network(doc, network).eval()
    with torch.no_grad():
        result = module(*inputs)
    return list(result) if isinstance(result, tuple) else [result]


def test_export_checks_each_network_once(monkeypatch) -> None:
    """The compiler's report travels in `module.meta`; preparing an export reuses it."""
    import engine.compiler

    checkers = []
    real = engine.compiler.NetworkChecker

    def counting(*args, **kwargs):
        checkers.append(args[0].name)
        return real(*args, **kwargs)

    doc = trained(gan_doc())
    monkeypatch.setattr(engine.compiler, "NetworkChecker", counting)
    preps = [prepare(doc, name) for name in doc.networks]
    assert checkers == ["generator", "discriminator"]
    assert preps[0].report.nodes["fc2"].outputs["out"] == (None, 4)


# ---- ONNX ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NETWORKS))
def test_onnx_matches_pytorch(tmp_path: Path, name: str) -> None:
    import onnx
    import onnxruntime

    doc = trained(NETWORKS[name]())
    result = export_onnx(doc, "main", tmp_path / f"{name}.onnx")
    assert "onnxruntime matches" in result.note
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    prep = prepare(doc, "main")
    assert [i.name for i in session.get_inputs()] == prep.inputs
    assert [o.name for o in session.get_outputs()] == prep.outputs
    assert all(isinstance(i.shape[0], str) for i in session.get_inputs())  # a dynamic batch
    if name == "transformer":
        assert prep.inputs == ["tokens"] and prep.outputs == ["logits", "attention"]
        assert onnx.load(result.path).opset_import[0].version >= 17
    for batch, seed in ((1, 10), (6, 11)):
        inputs = prep.example(batch, seed)
        got = session.run(None, {i: x.numpy() for i, x in zip(prep.inputs, inputs, strict=True)})
        for expected, actual in zip(reference(doc, "main", inputs), got, strict=True):
            assert np.abs(expected.numpy() - actual).max() <= 1e-4


def test_onnx_failure_is_a_clear_message_and_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def unsupported(*args, **kwargs):
        raise RuntimeError("Unsupported operator aten::frobnicate\nlong traceback ...")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    with pytest.raises(NetCanvasError, match=r"ONNX cannot express network 'main': Unsupported "
                                             r"operator aten::frobnicate\. Export it as TorchScript"):
        export_onnx(mlp_doc(), "main", tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_network_onnx_mishandles_is_refused_not_crashed(tmp_path: Path) -> None:
    # A time-major GRU: the exporter bakes the traced size into a reshape, and the
    # onnxruntime check catches it (if a later exporter fixes it, the file must match).
    doc = engine.Document("time major")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [5, 3]}, node_id="x")
    finish(net, add_chain(net, "x", [("gru", "GRU", {"hidden_size": 4, "batch_first": False})]))
    try:
        result = export_onnx(doc, "main", tmp_path / "gru.onnx")
    except NetCanvasError as exc:
        assert "ONNX cannot express network 'main'" in str(exc)
        assert "TorchScript" in str(exc)
        assert not (tmp_path / "gru.onnx").exists()
    else:
        assert "onnxruntime matches" in result.note


def test_exporter_boilerplate_is_cut_to_the_reason() -> None:
    from engine.export.preparation import first_line

    wrapped = RuntimeError("Failed to export the model with torch.export. \x1b[96mThis is step 1/3"
                           "\x1b[0m\n- Modify the model\n\n## Exception summary\n\n"
                           "<class 'torch._dynamo.exc.Unsupported'>: data-dependent branch\n\nmore")
    assert first_line(wrapped) == "data-dependent branch"
    assert first_line(ValueError("x" * 1000)).endswith("…")


def test_ids_python_reserves_export_everywhere(tmp_path: Path) -> None:
    import onnxruntime

    doc = engine.Document("reserved words")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [4]}, node_id="in")
    finish(net, add_chain(net, "in", [("class", "Linear", {"out_features": 3}),
                                      ("code", "ReLU", {}), ("graph", "Linear", {"out_features": 2})]),
           "return")
    doc = trained(doc)
    path = export_onnx(doc, "main", tmp_path / "r.onnx").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["in"]
    assert [o.name for o in session.get_outputs()] == ["return"]
    source = export_python(doc, tmp_path / "src").path / "model.py"
    assert 'self.add_module("class", nn.Linear(4, 3))' in source.read_text()
    state = torch.load(source.parent / "state_dict.pt", weights_only=True)
    assert set(state) == {"class.weight", "class.bias", "graph.weight", "graph.bias"}
    assert export_torchscript(doc, "main", tmp_path / "r.pt").path.exists()


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_exports_to_onnx_or_says_why(tmp_path: Path, preset: Path) -> None:
    doc = engine.load_document(preset)
    for network in doc.networks:
        try:
            result = export_onnx(doc, network, tmp_path / f"{network}.onnx")
        except NetCanvasError as exc:
            assert "ONNX cannot express" in str(exc)
        else:
            assert "onnxruntime matches" in result.note


# ---- torch.export (.pt2) -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["lenet", "lstm", "transformer"])
def test_pt2_reloads_with_a_dynamic_batch_and_matches_pytorch(tmp_path: Path, name: str) -> None:
    doc = trained(NETWORKS[name]())
    result = export_pt2(doc, "main", tmp_path / f"{name}.pt2")
    assert "torch.export.load reproduces" in result.note
    program = torch.export.load(str(result.path))
    assert isinstance(program, torch.export.ExportedProgram)
    module = program.module()
    prep = prepare(doc, "main")
    for batch, seed in ((1, 10), (6, 11)):  # neither is the traced batch of 3
        inputs = prep.example(batch, seed)
        with torch.no_grad():
            got = module(*inputs)
        got = list(got) if isinstance(got, tuple) else [got]
        for expected, actual in zip(reference(doc, "main", inputs), got, strict=True):
            torch.testing.assert_close(actual, expected)


def test_pt2_writes_one_program_per_network(tmp_path: Path) -> None:
    doc = trained(gan_doc())
    files = export_document(doc, "pt2", tmp_path / "gan.pt2")
    assert [(f.network, f.path.name) for f in files] == [("generator", "gan_generator.pt2"),
                                                          ("discriminator", "gan_discriminator.pt2")]
    for item in files:
        x = prepare(doc, item.network).example(2, seed=5)
        with torch.no_grad():
            got = torch.export.load(str(item.path)).module()(*x)
        torch.testing.assert_close(got, reference(doc, item.network, x)[0])


def test_pt2_failure_is_a_clear_message_and_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def unsupported(*args, **kwargs):
        raise RuntimeError("data-dependent control flow\nlong traceback ...")

    monkeypatch.setattr(torch.export, "export", unsupported)
    with pytest.raises(NetCanvasError, match=r"torch.export cannot express network 'main': "
                                             r"data-dependent control flow\. Export it as"):
        export_pt2(mlp_doc(), "main", tmp_path / "m.pt2")
    assert list(tmp_path.iterdir()) == []


def test_a_pt2_program_that_computes_something_else_never_lands(tmp_path: Path, monkeypatch) -> None:
    real_load = torch.export.load

    class Off:
        def __init__(self, program):
            self.inner = program.module()

        def module(self):
            return lambda *x: self.inner(*x) + 1e-3

    monkeypatch.setattr(torch.export, "load", lambda path: Off(real_load(path)))
    (tmp_path / "m.pt2").write_bytes(b"the previous export")
    with pytest.raises(NetCanvasError, match=r"differs from PyTorch by 0\.001"):
        export_pt2(trained(mlp_doc()), "main", tmp_path / "m.pt2")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt2"]
    assert (tmp_path / "m.pt2").read_bytes() == b"the previous export"


# ---- without NetCanvas: TorchScript and PyTorch source ------------------------------------------


CHILD = r"""
import importlib.util, json, sys
sys.path[:0] = json.loads(sys.argv[1])
assert importlib.util.find_spec("engine") is None, "NetCanvas is importable"
import torch
torch.set_num_threads(int(sys.argv[3]))  # the test process's count: same kernels, same splits
report = {}
for index, (kind, folder) in enumerate(json.loads(sys.argv[2])):
    cases = torch.load(folder + "/cases.pt", weights_only=True)
    if kind == "python":
        spec = importlib.util.spec_from_file_location(f"model_{index}", folder + "/model.py")
        model = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(model)
        state = torch.load(folder + "/state_dict.pt", weights_only=True)
    for name, case in cases.items():
        if kind == "torchscript":
            module = torch.jit.load(folder + "/" + case["file"])
        else:
            module = getattr(model, case["cls"])()
            module.load_state_dict(state[case["network"]] if case["several"] else state)
            module.eval()
        with torch.no_grad():
            out = module(*case["inputs"])
        out = list(out) if isinstance(out, tuple) else [out]
        report[folder + ":" + name] = {  # float32 tolerances (torch.testing's defaults)
            "close": all(torch.allclose(a, b, rtol=1.3e-6, atol=1e-5, equal_nan=True)
                         for a, b in zip(out, case["expected"])),
            "diff": max(float((a - b).abs().max()) for a, b in zip(out, case["expected"])),
            "count": len(out) == len(case["expected"]),
            "threads": torch.get_num_threads(),
        }
print(json.dumps(report))
"""


def run_without_netcanvas(jobs: list[tuple[str, Path, dict]]) -> dict:
    """Check exported files in a fresh interpreter that can import torch but not NetCanvas.

    Each job is (kind, folder, cases). `-I -S` skips site-packages' .pth files (the
    editable install of NetCanvas lives there); torch's own folders are passed in
    explicitly instead. The child runs with this process's torch thread count and
    the comparison allows float32 rounding: another thread count splits reductions
    differently (LeNet moved by 1.4e-6 between 1 thread and the default), and
    neither is a fault of the export.
    """
    for _, folder, cases in jobs:
        torch.save(cases, folder / "cases.pt")
    paths = [p for p in sys.path if p and not (Path(p) / "engine").exists()
             and Path(p).resolve() != ROOT]
    listed = json.dumps([(kind, str(folder)) for kind, folder, _ in jobs])
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, json.dumps(paths), listed,
                           str(torch.get_num_threads())],
                          cwd=jobs[0][1], capture_output=True, text=True, timeout=600,  # hang guard
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _case(doc: engine.Document, network: str, **extra) -> dict:
    prep = prepare(doc, network)
    inputs = list(prep.example(4, seed=3))
    return {"inputs": inputs, "expected": reference(doc, network, inputs), "network": network,
            **extra}


def test_torchscript_runs_without_netcanvas(tmp_path: Path) -> None:
    cases = {}
    for name in ("lenet", "lstm", "transformer"):
        doc = trained(NETWORKS[name]())
        result = export_torchscript(doc, "main", tmp_path / f"{name}.pt")
        assert result.path.exists()
        cases[name] = _case(doc, "main", file=f"{name}.pt")
    report = run_without_netcanvas([("torchscript", tmp_path, cases)])
    assert len(report) == 3
    for name, outcome in report.items():
        assert outcome["count"] and outcome["close"], (name, outcome)
        assert outcome["threads"] == torch.get_num_threads()


def test_python_source_reproduces_outputs_without_netcanvas(tmp_path: Path) -> None:
    jobs = []
    for name in ("lenet", "transformer", "zoo"):
        doc = trained(zoo_doc() if name == "zoo" else NETWORKS[name]())
        folder = tmp_path / name
        export_python(doc, folder)
        several = len(doc.networks) > 1
        jobs.append(("python", folder, {n: _case(doc, n, cls=engine.compiler.class_name(n),
                                                 several=several) for n in doc.networks}))
    report = run_without_netcanvas(jobs)
    assert len(report) == sum(len(cases) for _, _, cases in jobs)
    for name, outcome in report.items():
        assert outcome["count"] and outcome["close"], (name, outcome)


def test_python_source_reads_like_hand_written_code(tmp_path: Path) -> None:
    source = export_python(trained(transformer_doc()), tmp_path).path.joinpath("model.py").read_text()
    assert "import engine" not in source and "netcanvas" not in source.split('"""', 2)[2]
    assert "class Main(nn.Module):" in source
    assert "class PositionalEncoding(nn.Module):" in source  # copied, because it is used
    assert "class GraphConv" not in source and "class TakeLast" not in source  # not used
    assert "self.embed = nn.Embedding(20, 16)" in source
    assert "attn, attn_weights = self.attn(encoder, encoder, encoder)" in source
    assert "residual = attn + encoder" in source
    assert "both = torch.cat([norm, pos], dim=-1)" in source
    assert "return head, attn_weights" in source
    assert "GraphModule" not in source and "getitem" not in source
    lstm = export_python(lstm_doc(), tmp_path / "lstm").path.joinpath("model.py").read_text()
    assert "lstm, _ = self.lstm(seq)" in lstm
    assert "nn.LSTM(5, 12, num_layers=2, batch_first=True)" in lstm


def test_every_catalogue_block_is_covered_by_the_source_tests() -> None:
    used = {node.block for make in (lenet, mlp_doc, lstm_doc, transformer_doc, zoo_doc)
            for net in make().networks.values() for node in net.nodes.values()}
    assert set(CATALOGUE) - used == set()


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed")
def test_generated_source_is_lint_clean(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    export_python(trained(zoo_doc()), tmp_path)
    done = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--select", "E,F,W,I",
                           "--line-length", "120", str(tmp_path / "model.py")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


# ---- several networks, bundles and the CLI --------------------------------------------------


def test_multi_network_documents_export_each_network_named(tmp_path: Path) -> None:
    import onnxruntime

    doc = trained(gan_doc())
    onnx_files = export_document(doc, "onnx", tmp_path / "gan.onnx")
    assert [f.path.name for f in onnx_files] == ["gan_generator.onnx", "gan_discriminator.onnx"]
    for item in onnx_files:
        session = onnxruntime.InferenceSession(str(item.path), providers=["CPUExecutionProvider"])
        prep = prepare(doc, item.network)
        inputs = prep.example(3, seed=4)
        got = session.run(None, {n: x.numpy() for n, x in zip(prep.inputs, inputs, strict=True)})
        assert np.abs(reference(doc, item.network, inputs)[0].numpy() - got[0]).max() <= 1e-4
    scripts = export_document(doc, "torchscript", tmp_path / "gan.pt")
    assert [f.path.name for f in scripts] == ["gan_generator.pt", "gan_discriminator.pt"]
    (folder,) = export_document(doc, "python", tmp_path / "gan_source")
    state = torch.load(folder.path / "state_dict.pt", weights_only=True)
    assert set(state) == {"generator", "discriminator"}
    source = (folder.path / "model.py").read_text()
    assert "class Generator(nn.Module):" in source and "class Discriminator(nn.Module):" in source
    assert 'generator.load_state_dict(state["generator"])' in source


def test_a_single_named_network_keeps_the_given_path(tmp_path: Path) -> None:
    doc = engine.Document("dqn")
    net = doc.add_network("q_network")
    net.add_node("Input", {"shape": [4]}, node_id="state")
    finish(net, add_chain(net, "state", [("fc", "Linear", {"out_features": 2})]), "q_values")
    (item,) = export_document(doc, "torchscript", tmp_path / "dqn.pt")
    assert item.path == tmp_path / "dqn.pt" and item.network == "q_network"
    (source,) = export_document(doc, "python", tmp_path / "src")
    assert "class QNetwork(nn.Module):" in (source.path / "model.py").read_text()


def test_cli_exports_a_bundle_and_warns_about_a_plain_document(tmp_path: Path, capsys) -> None:
    from engine.cli import main

    doc = trained(mlp_doc())
    engine.save_bundle(doc, None, tmp_path / "mlp.ncz")
    assert main(["export", str(tmp_path / "mlp.ncz"), "--format", "torchscript",
                 "--out", str(tmp_path / "mlp.pt")]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "holds no trained weights" not in captured.err
    loaded = torch.jit.load(str(tmp_path / "mlp.pt"))
    x = torch.randn(2, 6)
    assert torch.equal(loaded(x), reference(doc, "main", (x,))[0])

    engine.save_document(mlp_doc(), tmp_path / "mlp.json")
    assert main(["export", str(tmp_path / "mlp.json"), "--format", "bundle",
                 "--out", str(tmp_path / "fresh.ncz")]) == 0
    assert "holds no trained weights" in capsys.readouterr().err
    assert set(engine.load_document(tmp_path / "fresh.ncz").weights) == {"main"}

    assert main(["export", str(tmp_path / "mlp.ncz"), "--format", "pt2",
                 "--out", str(tmp_path / "mlp.pt2")]) == 0
    assert "torch.export.load reproduces" in capsys.readouterr().out
    with torch.no_grad():
        got = torch.export.load(str(tmp_path / "mlp.pt2")).module()(x)
    torch.testing.assert_close(got, reference(doc, "main", (x,))[0])

    assert main(["export", str(tmp_path / "missing.ncz"), "--format", "onnx",
                 "--out", str(tmp_path / "x.onnx")]) == 1
    assert "missing.ncz" in capsys.readouterr().err
