"""Import: hand-written PyTorch modules become editable documents that compute the same."""

from __future__ import annotations

import importlib.util
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import engine
from engine.compiler import count_parameters
from engine.errors import NetCanvasError
from engine.export import export_onnx, export_python, export_torchscript
from engine.importer import import_module


class SimpleCNN(nn.Module):
    """The seed's LeNet-style network, as in PyTorch's MNIST example."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(4 * 4 * 50, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2, 2)
        x = x.view(-1, 4 * 4 * 50)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + x
        return torch.relu(out)


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 16)
        self.lstm = nn.LSTM(16, 24, batch_first=True)
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(24, 4)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embed(tokens))
        return self.fc(self.drop(h[-1]))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Identity(),
                                    nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 3))

    def forward(self, x):
        return F.softmax(self.layers(x), dim=-1)


class Autoencoder(nn.Module):
    """Layers named like GraphModule attributes: fx renames such submodules (`code_`)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(8, 3)
        self.code = nn.Linear(3, 3)
        self.graph = nn.Linear(3, 8)

    def forward(self, x):
        return self.graph(torch.sigmoid(self.code(self.encoder(x))))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Conv2d(3, 4, 1)
        self.right = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(8 * 4 * 4, 2)

    def forward(self, x):
        both = torch.cat([self.left(x), self.right(x)], dim=1)
        return self.head(torch.flatten(both, 1))


class SequenceZoo(nn.Module):
    """Attention, recurrent layers and functions, with two outputs."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(12, 8)
        self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True,
                                                  activation="gelu")
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.gru = nn.GRU(8, 6, batch_first=True, bidirectional=True)
        self.rnn = nn.RNN(12, 5, batch_first=True, nonlinearity="relu")
        self.norm = nn.LayerNorm(5)

    def forward(self, tokens):
        x = self.encoder(self.embed(tokens))
        memory = x * torch.sigmoid(x)
        attended, weights = self.attn(x, memory, memory)
        g, _ = self.gru(attended)
        r, h = self.rnn(g)
        y = F.leaky_relu(self.norm(r), 0.2)
        return y.reshape(y.shape[0], -1, 5).contiguous(), weights


class ImageAndSignal(nn.Module):
    """Two inputs; transposed convolution, pooling, resizing, reshapes, methods."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 4, 2, stride=2)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.unflatten = nn.Unflatten(1, (4, 4, 4))
        self.conv = nn.Conv1d(2, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 10, 4)

    def forward(self, image, signal):
        y = self.pool(F.relu(self.bn(self.up(image))))
        y = F.avg_pool2d(F.interpolate(y, scale_factor=2, mode="bilinear"), 2)
        y = self.unflatten(y.flatten(1)).tanh() + y
        s = F.dropout(torch.flatten(self.conv(signal), 1), 0.25, training=self.training)
        return y, self.fc(s).log_softmax(dim=1)


class Unmappable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x):
        y = torch.sin(self.fc(x)) * self.scale
        return self.fc(y).cumsum(1)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else x


def outputs_equal(a: nn.Module, b: nn.Module, *inputs: torch.Tensor) -> bool:
    a.eval()
    b.eval()
    with torch.no_grad():
        return torch.allclose(a(*inputs), b(*inputs), rtol=1e-5, atol=1e-6)


def load_generated(folder: Path, cls: str = "Main") -> nn.Module:
    """The class model.py defines, with state_dict.pt loaded as a user would."""
    spec = importlib.util.spec_from_file_location(f"generated_{folder.name}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, cls)()
    model.load_state_dict(torch.load(folder / "state_dict.pt", weights_only=True))
    return model.eval()


def blocks(doc: engine.Document) -> Counter:
    return Counter(n.block for n in doc.network().nodes.values())


def test_simple_cnn_comes_in_as_lenet_and_exports_back(tmp_path: Path) -> None:
    torch.manual_seed(0)
    original = SimpleCNN()
    doc = import_module(original, (1, 28, 28))
    assert blocks(doc) == Counter({"Conv2d": 2, "ReLU": 3, "MaxPool2d": 2, "Linear": 2, "Input": 1,
                                   "Flatten": 1, "LogSoftmax": 1, "Output": 1})
    net = doc.network()
    assert net.nodes["conv1"].params == {"out_channels": 20, "kernel_size": 5}
    assert net.nodes["fc1"].params == {"out_features": 500}
    assert net.nodes["x"].params == {"shape": [1, 28, 28]}
    assert engine.check(doc).ok
    compiled = engine.compile_network(doc)
    assert count_parameters(compiled) == count_parameters(original) == 431_080
    x = torch.randn(5, 1, 28, 28)
    assert outputs_equal(compiled, original, x)
    exported = load_generated(export_python(doc, tmp_path / "cnn").path)
    assert count_parameters(exported) == 431_080
    assert outputs_equal(exported, original, x)


def test_residual_block_keeps_its_skip_connection_and_statistics(tmp_path: Path) -> None:
    torch.manual_seed(1)
    original = ResidualBlock()
    with torch.no_grad():  # give batch norm running statistics worth copying
        for _ in range(3):
            original(torch.randn(16, 8, 6, 6) * 3 + 1)
    doc = import_module(original, (8, 6, 6))
    net = doc.network()
    assert blocks(doc)["Add"] == 1 and blocks(doc)["BatchNorm2d"] == 2
    assert {e.source for e in net.incoming("add").values()} == {"bn2.out", "x.out"}
    assert net.nodes["conv2"].params == {"out_channels": 8, "padding": 1, "bias": False}
    assert torch.equal(doc.weights["main"]["bn1.running_mean"], original.bn1.running_mean)
    x = torch.randn(3, 8, 6, 6)
    scripted = torch.jit.load(str(export_torchscript(doc, "main", tmp_path / "res.pt").path))
    assert count_parameters(scripted) == count_parameters(original)
    assert outputs_equal(scripted, original, x)


def test_lstm_classifier_maps_tokens_state_and_last_step(tmp_path: Path) -> None:
    torch.manual_seed(2)
    original = LSTMClassifier()
    doc = import_module(original, {"tokens": (9,)})
    assert original.training  # importing does not leave the module in eval mode
    assert blocks(doc) == Counter({"Input": 1, "Embedding": 1, "LSTM": 1, "TakeLast": 1,
                                   "Dropout": 1, "Linear": 1, "Output": 1})
    assert doc.network().nodes["lstm"].params == {"hidden_size": 24}
    tokens = torch.randint(0, 30, (4, 9))
    exported = load_generated(export_python(doc, tmp_path / "lstm").path)
    assert count_parameters(exported) == count_parameters(original)
    assert outputs_equal(exported, original, tokens)


def test_sequential_mlp_imports_and_exports_to_onnx(tmp_path: Path) -> None:
    import onnxruntime

    original = MLP()
    doc = import_module(original, (4,))
    assert blocks(doc) == Counter({"Input": 1, "Linear": 3, "Tanh": 1, "GELU": 1, "Softmax": 1,
                                   "Output": 1})  # nn.Identity passes through
    path = export_onnx(doc, "main", tmp_path / "mlp.onnx").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(6, 4)
    with torch.no_grad():
        expected = original.eval()(x).numpy()
    assert np.abs(session.run(None, {"x": x.numpy()})[0] - expected).max() <= 1e-5


def test_layer_names_fx_reserves_still_round_trip(tmp_path: Path) -> None:
    original = Autoencoder()
    doc = import_module(original, (8,))
    assert {"code", "graph"} <= set(doc.network().nodes)
    x = torch.randn(4, 8)
    assert outputs_equal(engine.compile_network(doc), original, x)
    source = export_python(doc, tmp_path / "ae").path
    assert "self.graph = nn.Linear(3, 8)" in (source / "model.py").read_text()
    assert outputs_equal(load_generated(source), original, x)


def test_attention_recurrent_and_multi_input_modules_map(tmp_path: Path) -> None:
    torch.manual_seed(3)
    sequence = import_module(SequenceZoo(), (7,))
    assert {"TransformerEncoderLayer", "MultiheadAttention", "GRU", "RNN", "LayerNorm", "Sigmoid",
            "Multiply", "LeakyReLU", "Reshape"} <= set(blocks(sequence))
    net = sequence.network()
    assert {p: e.source for p, e in net.incoming("attn").items()} == {
        "query": "encoder.out", "key": "mul.out"}  # value falls back to key
    assert [n for n in net.nodes if net.nodes[n].block == "Output"] == ["out1", "out2"]
    assert net.incoming("out2")["in"].source == "attn.weights"
    original = ImageAndSignal()
    both = import_module(original, {"image": (3, 4, 4), "signal": (2, 10)})
    assert {"ConvTranspose2d", "BatchNorm2d", "MaxPool2d", "Upsample", "AvgPool2d", "Reshape",
            "Tanh", "Add", "Conv1d", "Flatten", "Dropout", "Linear", "LogSoftmax"} <= set(blocks(both))
    assert both.network().nodes["signal"].params == {"shape": [2, 10], "source": "signal"}
    exported = load_generated(export_python(both, tmp_path / "two").path)
    inputs = (torch.randn(2, 3, 4, 4), torch.randn(2, 2, 10))
    original.eval()
    with torch.no_grad():
        for a, b in zip(exported(*inputs), original(*inputs), strict=True):
            assert torch.allclose(a, b, atol=1e-6)


def test_branches_are_laid_out_left_to_right_and_stacked(tmp_path: Path) -> None:
    doc = import_module(Branches(), (3, 4, 4))
    nodes = doc.network().nodes
    assert nodes["x"].pos[0] < nodes["left"].pos[0] < nodes["cat"].pos[0] < nodes["head"].pos[0]
    assert nodes["left"].pos[0] == nodes["right"].pos[0]
    assert nodes["left"].pos[1] != nodes["right"].pos[1]
    assert nodes["cat"].block == "Concat" and nodes["cat"].params == {}  # dim=1 is the default
    assert nodes["flatten"].block == "Flatten"


def test_every_unmappable_operation_is_named_in_one_error() -> None:
    with pytest.raises(NetCanvasError) as info:
        import_module(Unmappable(), (4,))
    message = str(info.value)
    assert message.startswith("cannot import Unmappable: 4 operation(s) have no NetCanvas block")
    for expected in ("sin: torch.sin", "scale: self.scale", "fc_1: self.fc (the layer is also used",
                     "cumsum: .cumsum()"):
        assert expected in message


def test_untraceable_and_misfed_modules_give_clear_errors() -> None:
    with pytest.raises(NetCanvasError, match="torch.fx cannot trace DataDependent"):
        import_module(DataDependent(), (4,))
    with pytest.raises(NetCanvasError, match=r"running SimpleCNN on inputs of shape x: N×1×20×20 "
                                             r"failed: .*check the input shapes"):
        import_module(SimpleCNN(), (1, 20, 20))
    with pytest.raises(NetCanvasError, match="no input shape for tokens"):
        import_module(LSTMClassifier(), {"x": (9,)})


def test_a_netcanvas_export_imports_back_to_the_same_graph(tmp_path: Path) -> None:
    doc = engine.Document("round trip")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [6, 5]}, node_id="seq")
    net.add_node("GRU", {"hidden_size": 8}, node_id="gru")
    net.add_node("TakeLast", node_id="last")
    net.add_node("Linear", {"out_features": 4}, node_id="fc")
    net.add_node("Step", node_id="step")
    net.add_node("Concat", node_id="both")
    net.add_node("Reshape", {"shape": [2, 4]}, node_id="grid")
    net.add_node("Output", node_id="out")
    for a, b in (("seq", "gru"), ("gru", "last"), ("last", "fc"), ("fc", "step")):
        net.connect(f"{a}.out", f"{b}.in")
    net.connect("fc.out", "both.a")
    net.connect("step.out", "both.b")
    net.connect("both.out", "grid.in")
    net.connect("grid.out", "out.in")
    exported = load_generated(export_python(doc, tmp_path / "rt").path)
    again = import_module(exported, (6, 5))
    assert blocks(again) == blocks(doc)
    x = torch.randn(3, 6, 5)
    assert outputs_equal(engine.compile_network(again), exported, x)


MODULE_FILE = '''
import torch.nn.functional as F
from torch import nn

from helpers import WIDTH  # a sibling module: the file's own folder is importable


class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(4 * 4 * 50, WIDTH)
        self.fc2 = nn.Linear(WIDTH, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)
'''


def test_cli_import_writes_a_document_or_a_bundle(tmp_path: Path, capsys, monkeypatch) -> None:
    from engine.cli import main

    (tmp_path / "nets.py").write_text(textwrap.dedent(MODULE_FILE))
    (tmp_path / "helpers.py").write_text("WIDTH = 500\n")
    target = f"{tmp_path / 'nets.py'}:SimpleCNN"
    assert main(["import", target, "--input-shape", "1,28,28", "--out", str(tmp_path / "cnn.ncz")]) == 0
    assert "431,080 parameters" in capsys.readouterr().out
    bundle = engine.load_document(tmp_path / "cnn.ncz")
    assert bundle.weights["main"]["fc1.weight"].shape == (500, 800)
    assert engine.check(bundle).ok

    monkeypatch.chdir(tmp_path)
    assert main(["import", f"{tmp_path / 'nets.py'}:Tiny"]) == 0  # shape guessed from the Linear
    assert "--out NAME.ncz" in capsys.readouterr().out
    assert engine.load_document(tmp_path / "Tiny.json").network().nodes["x"].params == {"shape": [3]}

    assert main(["import", f"{tmp_path / 'nets.py'}:Nope"]) == 1
    assert "has no nn.Module class 'Nope' (it has: SimpleCNN, Tiny)" in capsys.readouterr().err
    assert main(["import", "nets.py"]) == 1
    assert "expected module.py:ClassName" in capsys.readouterr().err
    assert main(["import", f"{tmp_path / 'nets.py'}:SimpleCNN"]) == 1
    assert "give --input-shape" in capsys.readouterr().err
