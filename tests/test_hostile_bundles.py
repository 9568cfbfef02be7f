"""Hostile bundles: each is refused with one DocumentError naming the member, never a traceback.

The corpus (tests/hostile_corpus.py) takes a valid bundle apart and rebuilds
it wrong: encrypted members, compression methods Python cannot read, JSON
nested thousands deep, zip bombs, lying safetensors headers, zip-slip names,
duplicate members, fields of the wrong type. `load_bundle` must refuse each
with the exact member (and JSON path) at fault, and the CLI's `check`,
`train` and every `export` format must print that one line and exit 1.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import bundle
from engine.bundle import load_bundle
from engine.cli import main as cli_main
from engine.errors import DocumentError
from tests.hostile_corpus import (
    build_zip,
    nested_json,
    patch_member,
    replaced,
    safetensors_bytes,
    valid_bundle,
    valid_members,
    weights_with,
)

MiB = 1 << 20
Build = Callable[[dict[str, bytes]], bytes]


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> dict[str, bytes]:
    return valid_members(tmp_path_factory.mktemp("corpus"))


def _metrics(members: dict[str, bytes], **change) -> bytes:
    metrics = json.loads(members["metrics.json"])
    metrics.update(change)
    return build_zip(replaced(members, metrics_json=json.dumps(metrics).encode()))


def _state(members: dict[str, bytes], **change) -> bytes:
    state = json.loads(members["train_state.json"])
    state.update(change)
    return build_zip(replaced(members, train_state_json=json.dumps(state).encode()))


def _document(members: dict[str, bytes], **change) -> bytes:
    record = json.loads(members["document.json"])
    record.update(change)
    return build_zip(replaced(members, document_json=json.dumps(record).encode()))


def _bomb(member: str, size: int) -> Build:
    """A member that really inflates to `size` bytes (of spaces: valid JSON padding)."""
    return lambda m: build_zip(replaced(m, **{member.replace(".", "_"): b" " * size}))


W = "weights.safetensors"
S = "train_state.safetensors"
FC1 = (16, 4)  # main/b0.weight of the iris MLP

# id -> (build, member/path the error names, words in the reason)
CASES: dict[str, tuple[Build, str, str]] = {
    "encrypted document": (lambda m: patch_member(build_zip(replaced(m)), "document.json", flags=1),
                           "document.json", "is encrypted"),
    "implode (6)": (lambda m: patch_member(build_zip(replaced(m)), "metrics.json", method=6),
                    "metrics.json", "compression method 6 (implode)"),
    "zstandard (93)": (lambda m: patch_member(build_zip(replaced(m)), "document.json", method=93),
                       "document.json", "compression method 93 (Zstandard)"),
    "aes (99)": (lambda m: patch_member(build_zip(replaced(m)), W, method=99),
                 W, "compression method 99 (AES encryption)"),
    "nested 5000 deep": (lambda m: build_zip(replaced(m, train_state_json=nested_json(5000))),
                         "train_state.json", "nested too deeply"),
    "nested 100 deep": (lambda m: build_zip(replaced(m, metrics_json=nested_json(100))),
                        "metrics.json:deep" + "[0]" * 63, "nested too deeply (more than 64 levels)"),
    "duplicate member": (lambda m: build_zip([*replaced(m), ("metrics.json", b"{}")]),
                         "metrics.json", "two members have this name"),
    "zip-slip ..": (lambda m: build_zip([*replaced(m), ("../../evil.py", b"x")]),
                    "../../evil.py", "points outside the bundle"),
    "zip-slip absolute": (lambda m: build_zip([*replaced(m), ("/etc/cron.d/x", b"x")]),
                          "/etc/cron.d/x", "points outside the bundle"),
    "zip-slip backslash": (lambda m: build_zip([*replaced(m), ("..\\..\\x.bat", b"x")]),
                           "..\\\\..\\\\x.bat", "points outside the bundle"),
    "metrics bomb": (_bomb("metrics.json", 32 * MiB + 1), "metrics.json",
                     "too large: 32.0 MiB (33,554,433 bytes), more than the 32.0 MiB"),
    "document bomb": (_bomb("document.json", 16 * MiB + 1), "document.json",
                      "too large: 16.0 MiB (16,777,217 bytes)"),
    "lying size": (lambda m: patch_member(_bomb("metrics.json", 4 * MiB)(m), "metrics.json",
                                          size=100), "metrics.json", "damaged"),
    "weight of 64 MiB for a 16x4 matrix": (
        lambda m: build_zip(replaced(m, weights_safetensors=weights_with(
            {"main/b0.weight": (4096, 4096), "main/b0.bias": (16,), "main/b2.weight": (3, 16),
             "main/b2.bias": (3,)}))),
        W, "weight 'main/b0.weight' has shape 4096×4096; the graph needs 16×4"),
    "header declares 1 GiB": (
        lambda m: build_zip(replaced(m, weights_safetensors=safetensors_bytes(
            {"main/b0.weight": {"dtype": "F32", "shape": [1 << 28], "data_offsets": [0, 1 << 30]}}))),
        W, "its header declares 1,073,741,824 bytes of data; the member holds 0"),
    "header longer than the member": (
        lambda m: build_zip(replaced(m, weights_safetensors=b"\xff" * 8 + b"{}")),
        W, "a header of 18,446,744,073,709,551,615 bytes in a member of 10"),
    "header not json": (lambda m: build_zip(replaced(m, weights_safetensors=safetensors_bytes(b"{x"))),
                        W, "its header is not JSON"),
    "header a list": (lambda m: build_zip(replaced(m, weights_safetensors=safetensors_bytes(b"[]"))),
                      W, "its header is not a JSON object"),
    "unknown dtype": (lambda m: build_zip(replaced(m, weights_safetensors=safetensors_bytes(
        {"main/b0.bias": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}}, b"\0"))),
        W, "tensor 'main/b0.bias' has no known dtype"),
    "offsets disagree with shape": (lambda m: build_zip(replaced(m, weights_safetensors=safetensors_bytes(
        {"main/b0.bias": {"dtype": "F32", "shape": [16], "data_offsets": [0, 4]}}, b"\0" * 4))),
        W, "its offsets span 4 bytes, its shape needs 64"),
    "overlapping tensors": (lambda m: build_zip(replaced(m, weights_safetensors=safetensors_bytes(
        {"main/a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
         "main/b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))),
        W, "tensors overlap or leave gaps"),
    "truncated safetensors": (lambda m: build_zip(replaced(m, weights_safetensors=b"\1\0")),
                              W, "shorter than its header"),
    "weight of no network": (lambda m: build_zip(replaced(m, weights_safetensors=weights_with(
        {"ghost/w": (2,)}))), W, "weight 'ghost/w' belongs to no network"),
    "weight missing": (lambda m: build_zip(replaced(m, weights_safetensors=weights_with(
        {"main/b0.weight": FC1}))), W, "weight 'main/b0.bias' is missing (3 of 4 missing)"),
    "optimizer state bomb": (lambda m: build_zip(replaced(m, train_state_safetensors=safetensors_bytes(
        {"x": {"dtype": "F64", "shape": [1 << 21], "data_offsets": [0, 16 * MiB]},
         "y": {"dtype": "U8", "shape": [3000], "data_offsets": [16 * MiB, 16 * MiB + 3000]}},
        bytes(16 * MiB + 3000)))),
        S, "declares 16.0 MiB (16,780,216 bytes) of optimizer state for 524 bytes of "
           "weights; at most 16.0 MiB (16,779,312 bytes) is plausible"),
    "epoch_train of numbers": (lambda m: _metrics(m, history={"epoch_train": [1]}),
                               "metrics.json:history.epoch_train[0]", "expected an object, got a number"),
    "epoch value a string": (lambda m: _metrics(m, history={"epoch_val": [{"loss": "low"}]}),
                             "metrics.json:history.epoch_val[0].loss", "expected a number"),
    "history not lists": (lambda m: _metrics(m, history={"step_loss": 3}),
                          "metrics.json:history.step_loss", "expected a list"),
    "ragged confusion": (lambda m: _metrics(m, confusion_matrix=[[1, 2], [3]]),
                         "metrics.json:confusion_matrix[1]", "1 columns in a matrix of 2 rows"),
    "negative count": (lambda m: _metrics(m, confusion_matrix=[[1, -2], [3, 4]], class_names=["a", "b"]),
                       "metrics.json:confusion_matrix[0][1]", "expected a whole number ≥ 0"),
    "class names miscounted": (lambda m: _metrics(m, class_names=["a"]),
                               "metrics.json:class_names", "1 names for a 3×3 confusion matrix"),
    "metrics a list": (lambda m: build_zip(replaced(m, metrics_json=b"[]")),
                       "metrics.json", "expected a JSON object of metrics, got a list"),
    "eval reward a string": (lambda m: _metrics(m, eval_mean_reward="high"),
                             "metrics.json:eval_mean_reward", "expected a number"),
    "epoch zz": (lambda m: _state(m, epoch="zz"), "train_state.json:epoch",
                 "expected a whole number ≥ 0, got a string ('zz')"),
    "step negative": (lambda m: _state(m, step=-1), "train_state.json:step", "whole number ≥ 0"),
    "task a number": (lambda m: _state(m, task=3), "train_state.json:task", "expected a task name"),
    "optimizer groups": (lambda m: _state(m, optimizers={"main": {"state": {}, "param_groups": [
        {"params": ["w"]}]}}), "train_state.json:optimizers.main.param_groups[0].params[0]",
        "expected a whole number"),
    "rng a string": (lambda m: _state(m, rng={"torch": "seed"}), "train_state.json:rng.torch",
                     "expected a random-generator state tensor"),
    "tensor reference dangling": (lambda m: _state(m, rng={"torch": {"__nc__": "tensor", "key": "no"}}),
                                  "train_state.json", "corrupt training state"),
    "surrogate in the name": (lambda m: _document(m, name="bad \udcff"), "document.json:name",
                              "lone surrogate ('\\udcff', position 4)"),
    "surrogate in a metrics key": (lambda m: _metrics(m, history={"epoch_train": [{"lo\ud800ss": 1}]}),
                                   "metrics.json:history.epoch_train[0]", "a key holds a lone surrogate"),
    "1,001 members": (lambda m: build_zip([*replaced(m), *(
        (f"pad/{i}", b"", zipfile.ZIP_STORED) for i in range(996))]), "",
        "not a NetCanvas bundle: 1,001 members (a bundle has 5; at most 1,000 are read)"),
    "document missing": (lambda m: build_zip([(n, d) for n, d in m.items() if n != "document.json"]),
                         "document.json", "missing from the bundle"),
    "bad document field": (lambda m: _document(m, networks=[]), "document.json:networks",
                           "expected an object of named networks"),
}


def _write(tmp_path: Path, members: dict[str, bytes], case: str) -> Path:
    path = tmp_path / "hostile.ncz"
    path.write_bytes(CASES[case][0](members))
    return path


@pytest.mark.parametrize("case", CASES)
def test_each_hostile_bundle_is_refused_naming_the_member(tmp_path, members, case):
    path = _write(tmp_path, members, case)
    _, where, words = CASES[case]
    with pytest.raises(DocumentError) as info:  # any other exception type fails the test
        load_bundle(path)
    assert (info.value.file, info.value.path) == (str(path), where)
    assert words in info.value.reason
    assert "\n" not in str(info.value)
    str(info.value).encode("utf-8")  # printable anywhere, surrogates included


def test_the_corpus_starts_from_a_bundle_that_loads(tmp_path, members):
    path = tmp_path / "rebuilt.ncz"
    path.write_bytes(build_zip(replaced(members)))
    doc = load_bundle(path)
    assert doc.weights["main"]["b0.weight"].shape == FC1
    assert doc.train_state["epoch"] == 1 and doc.metrics["class_names"][0] == "setosa"
    nan = doc.metrics["history"]["epoch_val"][0]["accuracy"]  # saved as null, read back as NaN
    assert nan != nan


def test_a_bomb_is_refused_before_it_is_inflated(tmp_path, members, monkeypatch):
    """The declared size is checked before any byte is decompressed."""
    path = _write(tmp_path, members, "metrics bomb")
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda zf, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or real_open(zf, name, *a, **k))
    with pytest.raises(DocumentError, match="too large"):
        load_bundle(path)
    assert "metrics.json" not in opened


def test_weights_of_a_graph_that_does_not_compile_share_a_floor(tmp_path, members, monkeypatch):
    record = json.loads(members["document.json"])
    record["networks"]["main"]["nodes"][1]["params"] = {"out_features": -1}  # a check error
    data = build_zip(replaced(members, document_json=json.dumps(record).encode()))
    path = tmp_path / "broken.ncz"
    path.write_bytes(data)
    assert load_bundle(path).weights["main"]["b0.weight"].shape == FC1  # opens for repair
    monkeypatch.setattr(bundle, "WEIGHTS_FLOOR", 100)
    with pytest.raises(DocumentError) as info:
        load_bundle(path)
    assert info.value.path == W
    assert "networks whose size cannot be checked" in info.value.reason
    assert "at most 100 bytes is read" in info.value.reason


COMMANDS = {
    "check": lambda path, out: ["check", str(path)],
    "train": lambda path, out: ["train", str(path), "--out", str(out), "--quiet"],
    **{f"export {fmt}": (lambda path, out, fmt=fmt: ["export", str(path), "--format", fmt,
                                                    "--out", str(out / f"x.{fmt}")])
       for fmt in ("onnx", "torchscript", "python", "bundle")},
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["encrypted document", "nested 5000 deep", "zstandard (93)",
                                  "epoch zz", "header declares 1 GiB"])
def test_every_command_prints_one_line_and_exits_1(tmp_path, members, capsys, command, case):
    path = _write(tmp_path, members, case)
    out = tmp_path / "out"
    out.mkdir()
    assert cli_main(COMMANDS[command](path, out)) == 1
    err = capsys.readouterr().err.strip()
    _, where, words = CASES[case]
    assert err.startswith(f"netcanvas {command.split()[0]}: {path}: at {where}: ")
    assert words in err and "\n" not in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_a_valid_corpus_bundle_still_trains_and_exports(tmp_path, capsys):
    path = valid_bundle(tmp_path / "ok.ncz")
    assert cli_main(["export", str(path), "--format", "bundle", "--out", str(tmp_path / "x.ncz")]) == 0
    again = load_bundle(tmp_path / "x.ncz")
    assert torch.equal(again.weights["main"]["b0.weight"], load_bundle(path).weights["main"]["b0.weight"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(max_size=8),
                                st.integers(0, 40)), min_size=1, max_size=4))
def test_any_corrupted_bytes_load_or_are_refused(tmp_path, members, edits):
    """Random splices into a valid bundle: a DocumentError or a bundle, nothing else."""
    data = bytearray(build_zip(replaced(members)))
    for where, insert, cut in edits:
        at = int(where * len(data))
        data[at:at + cut] = insert
    path = tmp_path / "spliced.ncz"
    path.write_bytes(bytes(data))
    try:
        load_bundle(path)
    except DocumentError as exc:
        assert exc.file == str(path) and "\n" not in str(exc)
