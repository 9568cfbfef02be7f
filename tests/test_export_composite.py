"""Export of composite blocks: nested, repeated and multi-port composites in every format.

Each test reads the written file back on its own (importing model.py from disk,
torch.jit.load, onnxruntime, torch.export.load) and compares with the compiled
module, so it does not rely on the exporters' own checks.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine.composites import ExposedParam
from engine.export import export_onnx, export_pt2, export_python, export_torchscript, prepare

ROOT = Path(__file__).resolve().parent.parent


def wire(net: engine.Network, *pairs: tuple[str, str]) -> None:
    for src, dst in pairs:
        net.connect(src if "." in src else f"{src}.out", dst if "." in dst else f"{dst}.in")


def conv_doc() -> engine.Document:
    """`Stage` (ConvBNReLU then ResidualBlock ×2) used ×2, then a ResidualBlock of its own.

    The two copies of Stage see 1 and then 6 input channels, so Stage's class takes
    the input width as a parameter; `width` reaches the nested blocks' params.
    """
    doc = engine.Document("nested conv")
    stage = doc.add_block("Stage")
    stage.add_node("Input", node_id="in")
    stage.add_node("ConvBNReLU", {"out_channels": 8}, node_id="stem")
    stage.add_node("ResidualBlock", {"channels": 8, "repeat": 2}, node_id="res")
    stage.add_node("Output", node_id="out")
    wire(stage, ("in", "stem"), ("stem", "res"), ("res", "out"))
    doc.set_block_info("Stage", doc="A stem and two residual blocks.", exposed=[
        ExposedParam("width", "int", 8, targets=["stem.out_channels", "res.channels"])])
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [1, 8, 8]}, node_id="image")
    net.add_node("Stage", {"width": 6, "repeat": 2}, node_id="features")
    net.add_node("ResidualBlock", {"channels": 6}, node_id="refine")
    net.add_node("Flatten", node_id="flat")
    net.add_node("Linear", {"out_features": 3}, node_id="head")
    net.add_node("Output", node_id="out")
    wire(net, ("image", "features"), ("features", "refine"), ("refine", "flat"), ("flat", "head"),
         ("head", "out"))
    return doc


def transformer_doc(layers: int = 3) -> engine.Document:
    """Tokens -> embedding -> positions -> TransformerEncoderBlock ×layers -> logits."""
    doc = engine.Document("deep transformer")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [7]}, node_id="tokens")
    net.add_node("Embedding", {"num_embeddings": 11, "embedding_dim": 16}, node_id="embed")
    net.add_node("PositionalEncoding", {"max_len": 16}, node_id="pos")
    net.add_node("TransformerEncoderBlock", {"d_model": 16, "num_heads": 2, "dim_feedforward": 24,
                                             "repeat": layers}, node_id="encoder")
    net.add_node("Linear", {"out_features": 11}, node_id="head")
    net.add_node("Output", node_id="out")
    wire(net, ("tokens", "embed"), ("embed", "pos"), ("pos", "encoder"), ("encoder", "head"),
         ("head", "out"))
    return doc


def ports_doc() -> engine.Document:
    """A composite with two inputs and two outputs, and an inner node named `class`."""
    doc = engine.Document("two ports")
    mix = doc.add_block("Mix")
    mix.add_node("Input", node_id="a")
    mix.add_node("Input", node_id="b")
    mix.add_node("Linear", {"out_features": 5}, node_id="class")
    mix.add_node("Add", node_id="total")
    mix.add_node("Multiply", node_id="gate")
    mix.add_node("Output", node_id="sum")
    mix.add_node("Output", node_id="product")
    wire(mix, ("a", "class"), ("class", "total.a"), ("b", "total.b"), ("total", "sum"),
         ("class", "gate.a"), ("b", "gate.b"), ("gate", "product"))
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [4]}, node_id="x")
    net.add_node("Linear", {"out_features": 5}, node_id="fc")
    net.add_node("Mix", node_id="mix")
    net.add_node("Tanh", node_id="act")
    net.add_node("Output", node_id="first")
    net.add_node("Output", node_id="second")
    wire(net, ("x", "fc"), ("x", "mix.a"), ("fc", "mix.b"), ("mix.sum", "act"), ("act", "first"),
         ("mix.product", "second"))
    return doc


def tower_doc() -> engine.Document:
    """`Tower` exposes `depth`, the repeat of its inner block, and is used with 1 and with 3."""
    doc = engine.Document("towers")
    tower = doc.add_block("Tower")
    tower.add_node("Input", node_id="in")
    tower.add_node("MLPBlock", {"out_features": 6, "repeat": 2}, node_id="layers")
    tower.add_node("Output", node_id="out")
    wire(tower, ("in", "layers"), ("layers", "out"))
    doc.set_block_info("Tower", exposed=[ExposedParam("depth", "int", 2, min=1, targets=["layers.repeat"])])
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [6]}, node_id="x")
    net.add_node("Tower", {"depth": 1}, node_id="low")
    net.add_node("Tower", {"depth": 3}, node_id="high")
    net.add_node("Output", node_id="out")
    wire(net, ("x", "low"), ("low", "high"), ("high", "out"))
    return doc


def trained(doc: engine.Document) -> engine.Document:
    """Weights (and batch-norm statistics) unlike any fresh initialisation."""
    generator = torch.Generator().manual_seed(7)
    state = engine.compile_network(doc, "main", trained=False).state_dict()
    doc.weights["main"] = {k: v + 0.1 * torch.rand(v.shape, generator=generator)
                           if v.is_floating_point() else v for k, v in state.items()}
    return doc


DOCS = {"conv": conv_doc, "transformer": transformer_doc, "ports": ports_doc, "tower": tower_doc}


def expected_outputs(doc: engine.Document, inputs) -> tuple[torch.Tensor, ...]:
    module = engine.compile_network(doc, "main").eval()
    with torch.no_grad():
        out = module(*inputs)
    return tuple(out) if isinstance(out, tuple) else (out,)


def import_model(folder: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{folder.name}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the compiled module -------------------------------------------------------------------


def test_state_dict_keys_read_like_hand_written_ones() -> None:
    keys = set(engine.compile_network(transformer_doc(), "main").state_dict())
    assert "encoder.0.attention.in_proj_weight" in keys and "encoder.2.norm2.bias" in keys
    assert not any(k.startswith("encoder.3.") for k in keys)
    conv = set(engine.compile_network(conv_doc(), "main").state_dict())
    assert "features.1.res.1.conv2.weight" in conv and "refine.bn1.running_mean" in conv


# ---- model.py ----------------------------------------------------------------------------


def test_model_py_has_a_class_per_composite_used_as_a_person_would(tmp_path: Path) -> None:
    source = export_python(trained(conv_doc()), tmp_path).path.joinpath("model.py").read_text()
    assert "class ConvBNReLU(nn.Module):" in source and "class Stage(nn.Module):" in source
    assert "class ResidualBlock(nn.Module):" in source and source.count("class ResidualBlock") == 1
    # inner classes come before the classes that build them
    assert source.index("class ResidualBlock") < source.index("class Stage") < source.index("class Main")
    # the input width differs between the two copies of Stage: a parameter, passed by position
    assert "    def __init__(self, in_channels, width=8):" in source
    assert "self.stem = ConvBNReLU(in_channels, out_channels=width, kernel_size=3)" in source
    assert "self.res = nn.Sequential(*(ResidualBlock(channels=width) for _ in range(2)))" in source
    assert "self.features = nn.Sequential(Stage(1, width=6), Stage(6, width=6))" in source
    assert "self.refine = ResidualBlock(channels=6)" in source
    # the exposed parameter stands for every width it fixes, as a person writes it
    assert "self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)" in source
    assert "add = bn2 + in_" in source and "class Add" not in source
    assert "GraphModule" not in source and "import engine" not in source


def test_a_repeated_transformer_block_is_a_sequential_of_its_class(tmp_path: Path) -> None:
    source = export_python(trained(transformer_doc()), tmp_path).path.joinpath("model.py").read_text()
    assert "def __init__(self, num_heads=4, dim_feedforward=256, d_model=64, dropout=0.0):" in source
    assert "self.attention = nn.MultiheadAttention(d_model, num_heads, dropout=dropout, batch_first=True)" in source
    assert "self.ff2 = nn.Linear(dim_feedforward, d_model)" in source
    assert ("        self.encoder = nn.Sequential(\n"  # too long for a line: an argument per line
            "            *(TransformerEncoderBlock(num_heads=2, dim_feedforward=24, d_model=16) "
            "for _ in range(3)),\n        )\n") in source


@pytest.mark.parametrize("name", list(DOCS))
def test_model_py_loads_the_state_dict_strictly_and_reproduces_the_outputs(tmp_path: Path, name: str) -> None:
    doc = trained(DOCS[name]())
    export_python(doc, tmp_path)
    model = import_model(tmp_path).Main()
    state = torch.load(tmp_path / "state_dict.pt", weights_only=True)
    compiled = [k.replace(".class_.", ".class.")  # the compiler's name for a keyword id (docs/export.md)
                for k in engine.compile_network(doc, "main").state_dict()]
    assert list(state) == compiled  # the same keys, in the same order
    model.load_state_dict(state)  # strict
    model.eval()
    inputs = prepare(doc, "main").example(4, seed=2)
    with torch.no_grad():
        out = model(*inputs)
    actual = tuple(out) if isinstance(out, tuple) else (out,)
    expected = expected_outputs(doc, inputs)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert torch.equal(a, e)


def test_a_keyword_node_id_inside_a_composite_keeps_its_key(tmp_path: Path) -> None:
    doc = trained(ports_doc())
    source = export_python(doc, tmp_path).path.joinpath("model.py").read_text()
    assert 'self.add_module("class", nn.Linear(4, 5))' in source
    assert "mix_sum, mix_product = self.mix(x, fc)" in source
    assert "mix.class.weight" in torch.load(tmp_path / "state_dict.pt", weights_only=True)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed")
def test_model_py_with_composites_is_lint_clean(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    for name, make in DOCS.items():
        export_python(trained(make()), tmp_path / name)
        done = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--select", "E,F,W,I",
                               "--line-length", "120", str(tmp_path / name / "model.py")],
                              capture_output=True, text=True)
        assert done.returncode == 0, (name, done.stdout)


# ---- TorchScript, ONNX, pt2 ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(DOCS))
def test_torchscript_of_composites_reproduces_the_outputs(tmp_path: Path, name: str) -> None:
    doc = trained(DOCS[name]())
    export_torchscript(doc, "main", tmp_path / "model.pt")
    loaded = torch.jit.load(str(tmp_path / "model.pt"))
    inputs = prepare(doc, "main").example(5, seed=2)
    with torch.no_grad():
        out = loaded(*inputs)
    for a, e in zip(out if isinstance(out, tuple) else (out,), expected_outputs(doc, inputs), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6)
    assert "encoder" in dict(loaded.named_modules()) if name == "transformer" else True


@pytest.mark.parametrize("name", list(DOCS))
def test_onnx_of_composites_matches_onnxruntime(tmp_path: Path, name: str) -> None:
    import onnxruntime

    doc = trained(DOCS[name]())
    export_onnx(doc, "main", tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = prepare(doc, "main").example(6, seed=2)  # not the traced batch
    actual = session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)})
    expected = expected_outputs(doc, inputs)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(DOCS))
def test_pt2_of_composites_reproduces_the_outputs(tmp_path: Path, name: str) -> None:
    doc = trained(DOCS[name]())
    export_pt2(doc, "main", tmp_path / "model.pt2")
    loaded = torch.export.load(str(tmp_path / "model.pt2")).module()
    inputs = prepare(doc, "main").example(6, seed=2)
    with torch.no_grad():
        out = loaded(*inputs)
    for a, e in zip(out if isinstance(out, tuple) else (out,), expected_outputs(doc, inputs), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6)


def test_a_repeat_set_by_an_exposed_parameter_becomes_a_loop_count(tmp_path: Path) -> None:
    doc = trained(tower_doc())
    source = export_python(doc, tmp_path).path.joinpath("model.py").read_text()
    assert "    def __init__(self, depth=2):" in source
    assert ("        self.layers = (\n"  # too long for a line: a branch per line
            "            MLPBlock(out_features=6, dropout=0.0) if depth == 1\n"
            "            else nn.Sequential(*(MLPBlock(out_features=6, dropout=0.0) for _ in range(depth)))\n"
            "        )\n") in source
    assert "self.low = Tower(depth=1)" in source and "self.high = Tower(depth=3)" in source


def test_a_composite_named_like_the_network_class_gets_another_class_name(tmp_path: Path) -> None:
    doc = engine.Document("clash")
    block = doc.add_block("Main")
    block.add_node("Input", node_id="in")
    block.add_node("Linear", {"out_features": 3}, node_id="fc")
    block.add_node("Output", node_id="out")
    wire(block, ("in", "fc"), ("fc", "out"))
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [2]}, node_id="x")
    net.add_node("Main", {"repeat": 2}, node_id="inner")
    net.add_node("Output", node_id="out")
    wire(net, ("x", "inner"), ("inner", "out"))
    doc = trained(doc)
    source = export_python(doc, tmp_path).path.joinpath("model.py").read_text()
    assert "class Main2(nn.Module):" in source and "class Main(nn.Module):" in source
    assert "self.inner = nn.Sequential(Main2(2), Main2(3))" in source
    model = import_model(tmp_path).Main()
    model.load_state_dict(torch.load(tmp_path / "state_dict.pt", weights_only=True))
    inputs = prepare(doc, "main").example(3, seed=2)
    with torch.no_grad():
        assert torch.equal(model.eval()(*inputs), expected_outputs(doc, inputs)[0])


def test_onnx_import_of_a_composite_export_gives_the_flat_network(tmp_path: Path) -> None:
    """ONNX keeps no record of where a composite began: import gives its catalogue blocks,
    batch norm included (the export does not fold it into the convolutions)."""
    from engine.composites import is_composite
    from engine.onnx_import import import_onnx

    for name in ("transformer", "conv"):
        doc = trained(DOCS[name]())
        export_onnx(doc, "main", tmp_path / f"{name}.onnx")
        imported = import_onnx(tmp_path / f"{name}.onnx")
        nodes = imported.network("main").nodes.values()
        assert not imported.blocks and not any(is_composite(n.spec) for n in nodes)
        blocks = [n.block for n in nodes]
        if name == "transformer":
            assert blocks.count("MultiheadAttention") == 3 and blocks.count("LayerNorm") == 6
        else:
            assert blocks.count("BatchNorm2d") == 2 * (1 + 2 * 2) + 2  # Stage ×2, then ResidualBlock
        module = engine.compile_network(imported, "main").eval()
        assert sum(p.numel() for p in module.parameters()) == sum(
            p.numel() for p in engine.compile_network(doc, "main").parameters())
        inputs = prepare(doc, "main").example(4, seed=2)
        with torch.no_grad():
            torch.testing.assert_close(module(*inputs), expected_outputs(doc, inputs)[0],
                                       rtol=1e-4, atol=1e-4)
