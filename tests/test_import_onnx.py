"""ONNX import: every preset's ONNX export comes back with the same parameters and outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import engine
from engine.compiler import compile_network, count_parameters
from engine.errors import NetCanvasError
from engine.export import export_onnx, network_path, prepare
from engine.importer import import_target
from engine.onnx_import import import_onnx
from engine.presets import preset_paths

PRESETS = sorted(preset_paths(), key=lambda p: p.stem)


def _perturbed(doc) -> None:
    """Give every parameter a random, non-zero value: untrained biases are zero, and a
    zero would hide a bias the import lost."""
    generator = torch.Generator().manual_seed(3)
    doc.weights = {}
    for name in doc.networks:
        module = compile_network(doc, name, trained=False)
        state = module.state_dict()
        for key, _ in module.named_parameters():
            state[key] = state[key] + 0.1 * torch.randn(state[key].shape, generator=generator)
        doc.weights[name] = state


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """Preset stem -> (document, {network: ONNX path}), exported once per test session."""
    folder = tmp_path_factory.mktemp("onnx")
    cache: dict[str, tuple] = {}

    def get(path: Path):
        if path.stem not in cache:
            doc = engine.load_document(path)
            _perturbed(doc)
            several = len(doc.networks) > 1
            files = {n: export_onnx(doc, n, network_path(folder / f"{path.stem}.onnx", n, several)).path
                     for n in doc.networks}
            cache[path.stem] = (doc, files)
        return cache[path.stem]

    return get


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_round_trips_through_onnx(preset: Path, exported) -> None:
    doc, files = exported(preset)
    for network, file in files.items():
        original = prepare(doc, network)
        imported = import_onnx(file)
        module = compile_network(imported, "main").eval()
        assert count_parameters(module) == count_parameters(original.module), network
        example = original.example(6, seed=4)
        by_id = dict(zip(original.inputs, example, strict=True))
        args = [by_id[i] for i in module.meta["inputs"]]  # Input node ids come back by name
        with torch.no_grad():
            expected, actual = original.module(*example), module(*args)
        expected = expected if isinstance(expected, tuple) else (expected,)
        actual = actual if isinstance(actual, tuple) else (actual,)
        for e, a in zip(expected, actual, strict=True):
            assert e.shape == a.shape
            torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)


def test_an_lstm_comes_back_as_one_block_with_its_settings(exported) -> None:
    doc, files = exported(next(p for p in PRESETS if p.stem == "lstm_sine"))
    imported = import_onnx(files["main"])
    blocks = {n.block for n in imported.network("main").nodes.values()}
    assert {"LSTM", "TakeLast", "Linear"} <= blocks
    original = {n.block: n.resolved_params() for n in doc.network("main").nodes.values()}
    back = {n.block: n.resolved_params() for n in imported.network("main").nodes.values()}
    assert back["LSTM"] == original["LSTM"]


# ---- ONNX files not made by PyTorch: the operators alone ---------------------------------


def _model(nodes, inputs, outputs, initializers, opset: int = 17):
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def _batch_input(name: str, *dims: int):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *dims])


def test_a_hand_written_onnx_cnn_imports_and_computes_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    init = {"w": rng.standard_normal((4, 1, 3, 3)).astype(np.float32),
            "b": rng.standard_normal(4).astype(np.float32),
            "fc": rng.standard_normal((4 * 3 * 3, 5)).astype(np.float32),
            "fcb": rng.standard_normal(5).astype(np.float32)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat", axis=1),
        helper.make_node("MatMul", ["f", "fc"], ["m"], name="fc"),
        helper.make_node("Add", ["m", "fcb"], ["logits"], name="fc_bias"),
        helper.make_node("LogSoftmax", ["logits"], ["y"], name="log_softmax", axis=1),
    ]
    path = tmp_path / "cnn.onnx"
    onnx.save(_model(nodes, [_batch_input("x", 1, 6, 6)], [_batch_input("y", 5)], init), path)
    doc = import_onnx(path)
    blocks = [n.block for n in doc.network("main").nodes.values()]
    assert blocks == ["Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "LogSoftmax", "Output"]
    module = compile_network(doc, "main").eval()
    x = torch.randn(3, 1, 6, 6)
    expected = torch.nn.functional.log_softmax(
        torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(
            x, torch.from_numpy(init["w"]), torch.from_numpy(init["b"]), padding=1)), 2).flatten(1)
        @ torch.from_numpy(init["fc"]) + torch.from_numpy(init["fcb"]), dim=1)
    torch.testing.assert_close(module(x), expected, rtol=1e-4, atol=1e-5)


def test_every_unsupported_operator_is_listed_with_its_node_name(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Cos", ["x"], ["a"], name="my_cos"),
        helper.make_node("Relu", ["a"], ["b"], name="relu"),
        helper.make_node("Erf", ["b"], ["y"], name="my_erf"),
    ]
    path = tmp_path / "odd.onnx"
    onnx.save(_model(nodes, [_batch_input("x", 3)], [_batch_input("y", 3)], {}), path)
    with pytest.raises(NetCanvasError) as caught:
        import_onnx(path)
    message = str(caught.value)
    assert "2 operator(s)" in message
    assert "my_cos: Cos" in message and "my_erf: Erf" in message


def test_an_old_opset_or_a_broken_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    old = tmp_path / "old.onnx"
    onnx.save(_model(nodes, [_batch_input("x", 3)], [_batch_input("y", 3)], {}, opset=11), old)
    with pytest.raises(NetCanvasError, match="opset 11.*13 or newer"):
        import_onnx(old)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all")
    with pytest.raises(NetCanvasError, match="not a readable ONNX model"):
        import_onnx(broken)


def test_cli_imports_an_onnx_file_to_a_bundle_with_its_weights(tmp_path: Path, capsys, exported) -> None:
    from engine.cli import main

    doc, files = exported(next(p for p in PRESETS if p.stem == "feedforward_iris"))
    out = tmp_path / "iris.ncz"
    assert main(["import", str(files["main"]), "--out", str(out)]) == 0
    assert "imported feedforward_iris" in capsys.readouterr().out
    back = engine.load_document(out)
    x = torch.randn(4, 4)
    with torch.no_grad():
        torch.testing.assert_close(compile_network(back).eval()(x), prepare(doc).module(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(NetCanvasError, match="carries its own shapes"):
        import_target(str(files["main"]), input_shape="4")


class _Tagger(torch.nn.Module):
    """Hand-written PyTorch, not NetCanvas: tokens, an LSTM's final state, a classifier."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(30, 16)
        self.lstm = torch.nn.LSTM(16, 24, batch_first=True)
        self.fc = torch.nn.Linear(24, 4)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embed(tokens))
        return torch.log_softmax(self.fc(h[-1]), dim=-1)


def test_a_pytorch_model_exported_by_torch_onnx_imports(tmp_path: Path) -> None:
    import warnings

    torch.manual_seed(0)
    model = _Tagger().eval()
    tokens = torch.randint(0, 30, (3, 9))
    path = tmp_path / "tagger.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (tokens,), str(path), dynamo=True, verbose=False,
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
    doc = import_onnx(path)
    blocks = [n.block for n in doc.network("main").nodes.values()]
    assert blocks == ["Input", "Embedding", "LSTM", "TakeLast", "Linear", "LogSoftmax", "Output"]
    other = torch.randint(0, 30, (5, 9))
    with torch.no_grad():
        torch.testing.assert_close(compile_network(doc).eval()(other), model(other), rtol=1e-4, atol=1e-5)


def test_a_variable_size_besides_the_batch_is_refused_by_name(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    sequence = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", 3])
    path = tmp_path / "seq.onnx"
    onnx.save(_model(nodes, [sequence], [_batch_input("y", 3)], {}), path)
    with pytest.raises(NetCanvasError, match="input 'x' of seq has a variable size besides the batch"):
        import_onnx(path)
