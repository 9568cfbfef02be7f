"""Bundles: what a `.ncz` restores, how a bad one is refused, and that nothing unpickles."""

from __future__ import annotations

import json
import math
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine.bundle import load_bundle, save_bundle, save_run
from engine.errors import DocumentError, NetCanvasError
from engine.readwrite import document_to_json

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "presets" / "lenet_digits.json"
RNG_STATE = torch.Generator().manual_seed(5).get_state()


def _mlp_doc() -> engine.Document:
    doc = engine.Document("tiny mlp")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [4]}, node_id="x")
    net.add_node("Linear", {"out_features": 8}, node_id="fc1")
    net.add_node("ReLU", node_id="relu")
    net.add_node("Linear", {"out_features": 3}, node_id="fc2")
    net.add_node("Output", node_id="out")
    for a, b in (("x", "fc1"), ("fc1", "relu"), ("relu", "fc2"), ("fc2", "out")):
        net.connect(f"{a}.out", f"{b}.in")
    return doc


def _adam_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, 4, generator=generator)
        y = torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def _trained(tmp_path: Path):
    doc = _mlp_doc()
    torch.manual_seed(0)
    model = engine.compile_network(doc)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    _adam_steps(model, optimizer, 3, seed=1)
    metrics = {"accuracy": np.float32(0.75), "loss": [1.5, 1.2, float("nan")],
               "confusion": np.eye(3, dtype=np.int64)}
    state = {"optimizers": {"main": optimizer.state_dict()}, "step": 3, "epoch": 1,
             "episode": 0, "epsilon": 0.25, "rng": RNG_STATE, "best": float("inf")}
    path = tmp_path / "mlp.ncz"
    save_bundle(doc, {"main": model}, path, metrics=metrics, train_state=state)
    return doc, model, optimizer, path


def test_round_trip_restores_document_weights_metrics_and_state(tmp_path: Path) -> None:
    doc, model, optimizer, path = _trained(tmp_path)
    loaded = engine.load_document(path)  # dispatches on .ncz
    assert loaded.path == str(path)
    assert document_to_json(loaded) == document_to_json(doc)
    assert set(loaded.weights) == {"main"}
    expected = model.state_dict()
    assert loaded.weights["main"].keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(loaded.weights["main"][key], tensor), key
    assert loaded.metrics == {"accuracy": 0.75, "loss": [1.5, 1.2, None],
                              "confusion": np.eye(3, dtype=int).tolist()}
    state = loaded.train_state
    assert (state["step"], state["epoch"], state["episode"], state["epsilon"]) == (3, 1, 0, 0.25)
    assert state["best"] == math.inf
    assert torch.equal(state["rng"], RNG_STATE) and state["rng"].dtype == torch.uint8
    group = state["optimizers"]["main"]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert set(state["optimizers"]["main"]["state"]) == {0, 1, 2, 3}  # integer keys survive


def test_adam_resumes_exactly_from_a_bundle(tmp_path: Path) -> None:
    doc, model, optimizer, path = _trained(tmp_path)
    loaded = load_bundle(path)
    resumed = engine.compile_network(loaded)  # loads loaded.weights
    resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.01)
    resumed_optimizer.load_state_dict(loaded.train_state["optimizers"]["main"])
    _adam_steps(model, optimizer, 2, seed=7)
    _adam_steps(resumed, resumed_optimizer, 2, seed=7)
    for key, tensor in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], tensor), key


def test_models_none_saves_the_documents_own_weights(tmp_path: Path) -> None:
    doc = _mlp_doc()
    model = engine.compile_network(doc)
    doc.weights = {"main": model.state_dict()}
    doc.metrics = {"accuracy": 0.5}
    save_bundle(doc, None, tmp_path / "b.ncz")
    loaded = load_bundle(tmp_path / "b.ncz")
    assert all(torch.equal(loaded.weights["main"][k], v) for k, v in model.state_dict().items())
    assert loaded.metrics == {"accuracy": 0.5}
    assert loaded.train_state == {}


@pytest.mark.parametrize("edit", ["resize", "remove", "add"])
def test_weights_the_graph_outgrew_are_left_out_so_the_bundle_opens(tmp_path: Path, edit) -> None:
    """Train, then edit the graph, then save as .ncz: the file used to hold weights that no
    longer fit, and opening it was refused ("weight 'main/fc1.bias' has shape 8; the graph
    needs 5") — the document itself was lost with them."""
    doc, _, _, path = _trained(tmp_path)
    doc = load_bundle(path)
    net = doc.network("main")
    if edit == "resize":
        net.set_param("fc1", "out_features", 5)
    elif edit == "remove":
        net.remove_node("relu")
        net.remove_node("fc2")
        net.connect("fc1.out", "out.in")
    else:
        net.add_node("Linear", {"out_features": 3}, node_id="fc3")
        net.connect("fc2.out", "fc3.in")
        net.connect("fc3.out", "out.in")
    again = tmp_path / "edited.ncz"
    assert save_bundle(doc, None, again) == ["main"]
    reopened = load_bundle(again)
    assert reopened.weights == {} and reopened.train_state == {}
    assert reopened.metrics["accuracy"] == pytest.approx(0.75)  # the curves are kept
    assert engine.compile_network(reopened)  # and it builds


def test_an_edit_that_keeps_every_weight_keeps_them(tmp_path: Path) -> None:
    doc, model, _, path = _trained(tmp_path)
    doc = load_bundle(path)
    doc.network("main").move("fc1", (500, 20))
    doc.network("main").set_param("fc1", "out_features", 8)  # the same size, stated
    assert save_bundle(doc, None, tmp_path / "moved.ncz") == []
    reopened = load_bundle(tmp_path / "moved.ncz")
    assert all(torch.equal(reopened.weights["main"][k], v) for k, v in model.state_dict().items())
    assert reopened.train_state["step"] == 3


def test_bundle_members_are_the_documented_ones(tmp_path: Path) -> None:
    _, _, _, path = _trained(tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"document.json", "weights.safetensors", "metrics.json"} <= names
        json.loads(zf.read("metrics.json"))  # standard JSON: NaN became null
        assert b"NaN" not in zf.read("metrics.json")
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_a_failed_save_leaves_the_previous_bundle(tmp_path: Path) -> None:
    doc, _, _, path = _trained(tmp_path)
    before = path.read_bytes()
    with pytest.raises(NetCanvasError, match="training state"):
        save_bundle(doc, None, path, train_state={"callback": object()})
    assert path.read_bytes() == before
    with pytest.raises(NetCanvasError, match="no such network"):
        save_bundle(doc, {"critic": torch.nn.Linear(2, 2)}, path)
    assert path.read_bytes() == before


def _rewrite(path: Path, out: Path, replace: dict[str, bytes | None]) -> Path:
    """A copy of bundle `path` with members replaced (None removes one)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in replace:
                if replace[name] is not None:
                    dst.writestr(name, replace[name])
            else:
                dst.writestr(name, src.read(name))
        for name, data in replace.items():
            if name not in src.namelist() and data is not None:
                dst.writestr(name, data)
    return out


@pytest.mark.parametrize("member, data, expected", [
    ("weights.safetensors", None, "weights.safetensors: missing"),
    ("document.json", None, "document.json: missing"),
    ("weights.safetensors", b"\x00garbage" * 10, "weights.safetensors: not a valid safetensors"),
    ("document.json", b"{not json", "document.json: not valid JSON"),
    ("metrics.json", b"\xff\xfe", "metrics.json: not valid JSON"),
    ("train_state.json", b'{"__nc__": "tensor", "key": "nowhere"}', "train_state.json: corrupt"),
    ("metrics.json", b"[1, 2]", "metrics.json: expected a JSON object"),
])
def test_a_corrupt_member_is_named(tmp_path: Path, member, data, expected) -> None:
    _, _, _, path = _trained(tmp_path)
    bad = _rewrite(path, tmp_path / "bad.ncz", {member: data})
    with pytest.raises(DocumentError) as info:
        engine.load_document(bad)
    assert str(bad) in str(info.value) and expected in str(info.value)


def test_a_bad_document_inside_names_the_json_path(tmp_path: Path) -> None:
    _, _, _, path = _trained(tmp_path)
    raw = json.loads(zipfile.ZipFile(path).read("document.json"))
    raw["networks"]["main"]["nodes"][1]["block"] = "Linnear"
    bad = _rewrite(path, tmp_path / "bad.ncz", {"document.json": json.dumps(raw).encode()})
    with pytest.raises(DocumentError, match=r"document.json:networks.main.nodes\[1\].block: unknown block"):
        load_bundle(bad)


def test_not_a_zip_and_truncated_files_are_refused(tmp_path: Path) -> None:
    _, _, _, path = _trained(tmp_path)
    text = tmp_path / "text.ncz"
    text.write_text("hello")
    with pytest.raises(DocumentError, match="not a zip"):
        load_bundle(text)
    truncated = tmp_path / "cut.ncz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DocumentError, match=str(truncated)):
        load_bundle(truncated)
    with pytest.raises(DocumentError, match="no such file"):
        load_bundle(tmp_path / "missing.ncz")


def test_weights_for_an_unknown_network_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save

    _, _, _, path = _trained(tmp_path)
    bad = _rewrite(path, tmp_path / "bad.ncz",
                   {"weights.safetensors": save({"critic/fc.weight": torch.zeros(2)})})
    with pytest.raises(DocumentError, match="weights.safetensors: weight 'critic/fc.weight'"):
        load_bundle(bad)


class _Payload:
    """Unpickling this creates a file: proof that someone's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_payload_is_never_run(tmp_path: Path) -> None:
    _, _, _, path = _trained(tmp_path)
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"main/fc1.weight": _Payload(marker)})
    buffer = tmp_path / "payload.pt"
    torch.save(_Payload(marker), buffer)
    for member in ("weights.safetensors", "train_state.safetensors"):
        bad = _rewrite(path, tmp_path / f"evil_{member}.ncz",
                       {member: payload, "optimizer.pt": buffer.read_bytes()})
        with pytest.raises(DocumentError, match=member):
            engine.load_document(bad)
    assert not marker.exists()


def test_loading_calls_no_unpickler(tmp_path: Path, monkeypatch) -> None:
    _, _, _, path = _trained(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("a bundle load unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    doc = load_bundle(path)
    assert doc.train_state["optimizers"]["main"]["state"]


def test_the_lenet_preset_round_trips_with_untrained_weights(tmp_path: Path) -> None:
    doc = engine.load_document(LENET)
    model = engine.compile_network(doc)
    save_bundle(doc, {"main": model}, tmp_path / "lenet.ncz")
    loaded = engine.load_document(tmp_path / "lenet.ncz")
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(engine.compile_network(loaded)(x), model(x))


# ---- saving a run never loses it ---------------------------------------------------------


def test_text_with_lone_surrogates_saves_as_replacement_characters(tmp_path: Path) -> None:
    doc, _, _, _ = _trained(tmp_path)
    doc.name, doc.description = "run \udcff", "made in code \ud800"
    doc.metrics = {"note \udcff": "x\ud800"}
    doc.train_state = {"task": "classification", "label": "\udfff"}
    save_bundle(doc, None, tmp_path / "s.ncz")  # died with UnicodeEncodeError
    loaded = load_bundle(tmp_path / "s.ncz")
    assert (loaded.name, loaded.description) == ("run \ufffd", "made in code \ufffd")
    assert loaded.metrics == {"note \ufffd": "x\ufffd"}
    assert loaded.train_state["label"] == "\ufffd"


def test_save_run_falls_back_to_a_safe_name_beside_the_target(tmp_path: Path) -> None:
    doc, model, _, _ = _trained(tmp_path)
    doc.weights = {"main": model.state_dict()}
    blocked = tmp_path / "out" / "my run.ncz"
    blocked.mkdir(parents=True)  # a folder where the bundle should go
    where, problem = save_run(doc, blocked)
    assert where.parent == blocked.parent and where.name.startswith("my_run-")
    assert problem is not None and str(blocked) in problem
    assert torch.equal(load_bundle(where).weights["main"]["fc1.weight"], model.state_dict()["fc1.weight"])


def test_save_run_keeps_the_weights_when_the_metrics_cannot_be_saved(tmp_path: Path) -> None:
    doc, model, _, _ = _trained(tmp_path)
    doc.weights = {"main": model.state_dict()}
    doc.metrics = {"callback": object()}  # not data: every complete save fails
    where, problem = save_run(doc, tmp_path / "run.ncz")
    assert problem is not None and "cannot save metrics.callback" in problem
    loaded = load_bundle(where)
    assert loaded.metrics == {} and loaded.train_state == {}
    assert torch.equal(loaded.weights["main"]["fc2.bias"], model.state_dict()["fc2.bias"])


def test_train_says_where_the_run_went_when_the_target_is_blocked(tmp_path: Path, capsys) -> None:
    from engine.cli import main
    from tests.helpers import iris_mlp

    source = tmp_path / "iris.json"
    engine.save_document(iris_mlp(epochs=1), source)
    (tmp_path / "out" / "iris.ncz").mkdir(parents=True)
    assert main(["train", str(source), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    captured = capsys.readouterr()
    saved = next((tmp_path / "out").glob("iris-*.ncz"))
    assert f"; the run was saved to {saved} instead" in captured.err
    assert f"saved {saved}" in captured.out
    assert load_bundle(saved).weights["main"]
