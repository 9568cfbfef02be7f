"""Loading and saving the v1 format: round trips, refusals, and errors a person can act on.

A bad file must give exactly one DocumentError naming the file and the JSON
path (never a traceback), and a save must never leave half a file behind.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import fileio
from engine.errors import DocumentError, NetCanvasError
from engine.readwrite import (
    VERSION,
    document_to_dict,
    document_to_json,
    load_json_document,
    parse_document,
    save_document,
)

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted((ROOT / "presets").glob("*.json"))

# The seed's LeNet as a file, kept here so the error cases below can name exact
# indexes while the presets themselves are free to change.
LENET_TEXT = """{
  "format": "netcanvas", "version": 1, "name": "LeNet", "description": "test",
  "networks": {"main": {
    "nodes": [
      {"id": "x", "block": "Input", "params": {"shape": [1, 28, 28]}, "pos": [0, 0]},
      {"id": "conv1", "block": "Conv2d", "params": {"out_channels": 20, "kernel_size": 5}, "pos": [180, 0]},
      {"id": "relu1", "block": "ReLU", "params": {}, "pos": [360, 0]},
      {"id": "pool1", "block": "MaxPool2d", "params": {"kernel_size": 2}, "pos": [540, 0]},
      {"id": "conv2", "block": "Conv2d", "params": {"out_channels": 50, "kernel_size": 5}, "pos": [720, 0]},
      {"id": "relu2", "block": "ReLU", "params": {}, "pos": [900, 0]},
      {"id": "pool2", "block": "MaxPool2d", "params": {"kernel_size": 2}, "pos": [1080, 0]},
      {"id": "flatten", "block": "Flatten", "params": {}, "pos": [1260, 0]},
      {"id": "fc1", "block": "Linear", "params": {"out_features": 500}, "pos": [1440, 0]},
      {"id": "relu3", "block": "ReLU", "params": {}, "pos": [1620, 0]},
      {"id": "fc2", "block": "Linear", "params": {"out_features": 10}, "pos": [1800, 0]},
      {"id": "log_softmax", "block": "LogSoftmax", "params": {"dim": 1}, "pos": [1980, 0]},
      {"id": "out", "block": "Output", "params": {}, "pos": [2160, 0]}
    ],
    "edges": [
      {"from": "x.out", "to": "conv1.in"}, {"from": "conv1.out", "to": "relu1.in"},
      {"from": "relu1.out", "to": "pool1.in"}, {"from": "pool1.out", "to": "conv2.in"},
      {"from": "conv2.out", "to": "relu2.in"}, {"from": "relu2.out", "to": "pool2.in"},
      {"from": "pool2.out", "to": "flatten.in"}, {"from": "flatten.out", "to": "fc1.in"},
      {"from": "fc1.out", "to": "relu3.in"}, {"from": "relu3.out", "to": "fc2.in"},
      {"from": "fc2.out", "to": "log_softmax.in"}, {"from": "log_softmax.out", "to": "out.in"}
    ]
  }},
  "training": {"task": "classification", "loss": "nll", "epochs": 1}
}
"""
LENET_BYTES = LENET_TEXT.encode()


@pytest.fixture
def lenet_file(tmp_path: Path) -> Path:
    path = tmp_path / "lenet.json"
    path.write_text(LENET_TEXT)
    return path


def gan_record() -> dict[str, Any]:
    """Two networks and unknown keys at every level a later version might add them."""
    return {
        "format": "netcanvas",
        "version": 1,
        "name": "GAN",
        "description": "two networks",
        "author": {"name": "someone", "tags": ["a", 1, None]},  # unknown, top level
        "networks": {
            "generator": {
                "nodes": [
                    {"id": "noise", "block": "Input", "params": {"source": "noise", "shape": [16]},
                     "pos": [0, 0], "color": "#ff0000"},  # unknown, node
                    {"id": "fc", "block": "Linear", "params": {"out_features": 64}, "pos": [10.5, -3]},
                    {"id": "img", "block": "Output", "params": {}, "pos": [20, 0]},
                ],
                "edges": [
                    {"from": "noise.out", "to": "fc.in", "waypoints": [[1, 2]]},  # unknown, edge
                    {"from": "fc.out", "to": "img.in"},
                ],
                "zoom": 1.5,  # unknown, network
            },
            "discriminator": {
                "nodes": [
                    {"id": "x", "block": "Input", "params": {"shape": [64]}, "pos": [0, 0]},
                    {"id": "fc", "block": "Linear", "params": {"out_features": 1}, "pos": [1, 1]},
                    {"id": "p", "block": "Output", "params": {}, "pos": [2, 2]},
                ],
                "edges": [{"from": "x.out", "to": "fc.in"}, {"from": "fc.out", "to": "p.in"}],
            },
        },
        "training": {"task": "gan", "epochs": 3, "future_option": {"x": 1}},
    }


def test_round_trip_keeps_everything(tmp_path: Path):
    record = gan_record()
    doc = parse_document(json.dumps(record), "gan.json")
    assert list(doc.networks) == ["generator", "discriminator"]
    assert doc.extra == {"author": record["author"]}
    assert doc.networks["generator"].extra == {"zoom": 1.5}
    assert doc.networks["generator"].nodes["noise"].extra == {"color": "#ff0000"}
    assert doc.networks["generator"].edges[0].extra == {"waypoints": [[1, 2]]}
    path = tmp_path / "gan.json"
    save_document(doc, path)
    assert doc.path == str(path)
    again = load_json_document(path)
    assert document_to_dict(again) == document_to_dict(doc)
    saved = json.loads(path.read_text("utf-8"))
    expected = copy.deepcopy(record)
    expected.update(version=2, blocks={})  # saved as version 2: migrated, no composites
    for net in expected["networks"].values():  # positions come back as floats, same values
        for node in net["nodes"]:
            node["pos"] = [float(v) for v in node["pos"]]
    assert saved == expected


def test_lenet_round_trip(tmp_path: Path, lenet_file: Path):
    doc = engine.load_document(lenet_file)
    assert doc.path == str(lenet_file)
    save_document(doc, tmp_path / "copy.json")
    again = engine.load_document(tmp_path / "copy.json")
    assert document_to_dict(again) == document_to_dict(doc)
    assert document_to_json(again) == document_to_json(doc)
    assert engine.check(again).networks["main"].parameters == 431_080


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_round_trips(tmp_path: Path, preset: Path):
    doc = engine.load_document(preset)
    save_document(doc, tmp_path / preset.name)
    assert document_to_dict(engine.load_document(tmp_path / preset.name)) == document_to_dict(doc)


def test_a_lone_surrogate_is_refused_at_load_with_its_path(tmp_path: Path):
    path = tmp_path / "s.json"
    path.write_text('{"name": "ok", "description": "bad \\udcff text", "networks": {}}')
    with pytest.raises(DocumentError) as info:
        load_json_document(path)
    assert info.value.path == "description" and str(path) in str(info.value)
    assert "lone surrogate ('\\udcff', position 4)" in info.value.reason
    str(info.value).encode("utf-8")  # the message itself prints anywhere


def test_a_lone_surrogate_made_in_code_saves_as_the_replacement_character(tmp_path: Path):
    doc = engine.Document("bad \ud800 text")  # only code can make one: loading refuses it
    save_document(doc, tmp_path / "s.json")
    assert load_json_document(tmp_path / "s.json").name == "bad \ufffd text"


def test_newer_version_is_refused_clearly(tmp_path: Path):
    record = gan_record()
    record["version"] = VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DocumentError) as info:
        load_json_document(path)
    message = str(info.value)
    assert str(path) in message and "version" in message
    assert f"version {VERSION + 1}" in message and "newer NetCanvas" in message
    assert info.value.path == "version"


def test_missing_version_means_the_current_one():
    record = gan_record()
    del record["version"]
    assert parse_document(json.dumps(record)).name == "GAN"


def valid() -> dict[str, Any]:
    return json.loads(LENET_TEXT)


def with_change(change) -> str:
    record = valid()
    change(record)
    return json.dumps(record)


def _set(path: list, value: Any):
    def change(record: dict) -> None:
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _append_edge(edge: dict):
    return lambda r: r["networks"]["main"]["edges"].append(edge)


NODES = ["networks", "main", "nodes"]
ERRORS: list[tuple[str, Any, str, str]] = [
    # (case, text or change, JSON path, words of the reason)
    ("garbage bytes", bytes(range(256)) * 3, "", "not valid JSON"),
    ("not utf-8", b'{"name": "\xff\xfe\xfa"}', "", "UTF-8"),
    ("empty file", b"", "", "not valid JSON"),
    ("truncated", LENET_BYTES[:500], "", "not valid JSON"),
    ("nested too deep", b"[" * 50_000 + b"]" * 50_000, "", "nested too deeply"),
    ("huge number", b'{"version": 1' + b"0" * 5000 + b"}", "", "too many digits"),
    ("top level list", b"[1, 2]", "", "JSON object at the top level"),
    ("other format", _set(["format"], "other"), "format", "netcanvas"),
    ("version string", _set(["version"], "1"), "version", "positive integer"),
    ("version zero", _set(["version"], 0), "version", "positive integer"),
    ("version bool", _set(["version"], True), "version", "positive integer"),
    ("name number", _set(["name"], 3), "name", "a string"),
    ("no networks", lambda r: r.pop("networks"), "networks", "object of named networks"),
    ("networks list", _set(["networks"], []), "networks", "object of named networks"),
    ("network name", lambda r: r["networks"].update({"my net": {}}), "networks.my net", "identifier"),
    ("network not object", _set(["networks", "main"], 5), "networks.main", "object with nodes"),
    ("nodes not list", _set(["networks", "main", "nodes"], {}), "networks.main.nodes", "list of nodes"),
    ("edges not list", _set(["networks", "main", "edges"], "x"), "networks.main.edges", "list of edges"),
    ("node not object", _set([*NODES, 2], "conv"), "networks.main.nodes[2]", "node object"),
    ("id missing", lambda r: r["networks"]["main"]["nodes"][1].pop("id"), "networks.main.nodes[1].id",
     "string id"),
    ("id number", _set([*NODES, 1, "id"], 7), "networks.main.nodes[1].id", "string id"),
    ("id not identifier", _set([*NODES, 1, "id"], "conv 1"), "networks.main.nodes[1].id", "not a valid id"),
    ("duplicate id", _set([*NODES, 4, "id"], "conv1"), "networks.main.nodes[4].id", "duplicate node id 'conv1'"),
    ("unknown block", _set([*NODES, 3, "block"], "Conv3d"), "networks.main.nodes[3].block",
     "unknown block 'Conv3d'"),
    ("block not string", _set([*NODES, 3, "block"], None), "networks.main.nodes[3].block", "block name"),
    ("params list", _set([*NODES, 3, "params"], [5]), "networks.main.nodes[3].params", "an object"),
    ("bad param type", _set([*NODES, 4, "params", "kernel_size"], "5"),
     "networks.main.nodes[4].params.kernel_size", "an integer"),
    ("float for int", _set([*NODES, 4, "params", "kernel_size"], 5.0),
     "networks.main.nodes[4].params.kernel_size", "an integer"),
    ("bool for int", _set([*NODES, 4, "params", "kernel_size"], True),
     "networks.main.nodes[4].params.kernel_size", "an integer"),
    ("bad choice", lambda r: r["networks"]["main"]["nodes"].append(
        {"id": "up", "block": "Upsample", "params": {"mode": "cubic"}}),
     "networks.main.nodes[13].params.mode", "one of nearest, bilinear"),
    ("bad ints", _set([*NODES, 0, "params", "shape"], [1, "28"]), "networks.main.nodes[0].params.shape",
     "list of integers"),
    ("pos short", _set([*NODES, 0, "pos"], [1]), "networks.main.nodes[0].pos", "[x, y] numbers"),
    ("pos strings", _set([*NODES, 0, "pos"], ["1", "2"]), "networks.main.nodes[0].pos", "[x, y] numbers"),
    ("pos huge", lambda r: None, "networks.main.nodes[0].pos", "[x, y] numbers"),  # text below
    ("edge not object", _set(["networks", "main", "edges", 0], "x.out -> conv1.in"),
     "networks.main.edges[0]", "edge object"),
    ("edge from missing", lambda r: r["networks"]["main"]["edges"][0].pop("from"),
     "networks.main.edges[0].from", '"node.port"'),
    ("edge bare id", _set(["networks", "main", "edges", 0, "from"], "x"),
     "networks.main.edges[0].from", '"node.port"'),
    ("dangling edge", _append_edge({"from": "ghost.out", "to": "out.in"}),
     "networks.main.edges[12].from", "no node 'ghost'"),
    ("dangling target", _set(["networks", "main", "edges", 3, "to"], "conv9.in"),
     "networks.main.edges[3].to", "no node 'conv9'"),
    ("bad output port", _set(["networks", "main", "edges", 1, "from"], "conv1.h"),
     "networks.main.edges[1].from", "no output port 'h'"),
    ("bad input port", _set(["networks", "main", "edges", 1, "to"], "relu1.query"),
     "networks.main.edges[1].to", "no input port 'query'"),
    ("wired twice", _append_edge({"from": "x.out", "to": "relu1.in"}), "networks.main.edges[12]",
     "input relu1.in is wired twice"),
    ("same edge twice", _append_edge({"from": "x.out", "to": "conv1.in"}), "networks.main.edges[12]",
     "wired twice"),
    ("training list", _set(["training"], []), "training", "an object"),
]


def error_text(case: str, change: Any) -> bytes:
    if case == "pos huge":
        text = LENET_TEXT.replace('"pos": [0, 0]', '"pos": [1' + "0" * 400 + ", 0]", 1)
        assert text != LENET_TEXT
        return text.encode()
    if isinstance(change, bytes):
        return change
    return with_change(change).encode()


@pytest.mark.parametrize(("case", "change", "path", "reason"), ERRORS, ids=[e[0] for e in ERRORS])
def test_load_errors_name_the_file_and_the_json_path(tmp_path: Path, case: str, change: Any,
                                                     path: str, reason: str):
    file = tmp_path / "bad.json"
    data = error_text(case, change)
    file.write_bytes(data)
    with pytest.raises(DocumentError) as info:
        load_json_document(file)
    error = info.value
    assert error.file == str(file) and error.path == path, str(error)
    assert reason in error.reason, str(error)
    message = str(error)
    assert message.startswith(f"{file}: ")
    if path:
        assert f"at {path}: " in message
    assert "Traceback" not in message and "\n" not in message
    assert file.read_bytes() == data  # a failed load never touches the file


def test_missing_file_is_a_document_error(tmp_path: Path):
    with pytest.raises(DocumentError, match="cannot read the file") as info:
        engine.load_document(tmp_path / "nope.json")
    assert str(tmp_path / "nope.json") in str(info.value)


def test_unknown_params_and_out_of_range_values_load_and_check_reports_them():
    """They are the checker's business, so the editor can open the file and show them in place."""
    text = with_change(lambda r: r["networks"]["main"]["nodes"][4]["params"].update(
        {"kernel_size": 0, "groups": 2}))
    doc = parse_document(text, "f.json")
    report = engine.check(doc)
    errors = report.networks["main"].nodes["conv2"].errors
    assert any("unknown parameter 'groups'" in e for e in errors)
    assert any("kernel_size must be ≥ 1, got 0" in e for e in errors)


# ---- fuzzing: whatever the bytes, one DocumentError or a Document ---------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=8) | st.sampled_from(["Conv2d", "x.out", "conv1.in", "in", "out", "main"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "block", "params", "pos", "from", "to", "nodes", "edges", "version",
                         "networks", "kernel_size", "shape", "x"]) | st.text(max_size=5),
        children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


VALID_PATHS = _paths(valid())
fuzz_settings = settings(max_examples=150, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])


def _load_or_document_error(data: bytes | str) -> None:
    try:
        doc = parse_document(data, "fuzz.json")
    except DocumentError as exc:
        assert str(exc).startswith("fuzz.json: ")
        return
    engine.check(doc)  # and whatever loads, checking never raises either
    document_to_json(doc)


@fuzz_settings
@given(where=st.sampled_from(VALID_PATHS), value=json_values)
def test_fuzz_replacing_any_value(where: tuple, value: Any):
    record = valid()
    if not where:
        record = value
    else:
        target = record
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value
    _load_or_document_error(json.dumps(record))


@fuzz_settings
@given(cut=st.integers(0, len(LENET_BYTES)), junk=st.binary(max_size=6))
def test_fuzz_truncated_and_corrupted_bytes(cut: int, junk: bytes):
    data = LENET_BYTES
    _load_or_document_error(data[:cut] + junk)
    _load_or_document_error(data[:cut] + junk + data[cut + len(junk):])


# ---- saving is atomic ------------------------------------------------------------------


def test_failed_save_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "doc.json"
    doc = parse_document(LENET_TEXT)
    save_document(doc, path)
    old = path.read_bytes()
    doc.name = "changed"

    def disk_full(fd: int) -> None:  # the data is half written when the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", disk_full)
    with pytest.raises(NetCanvasError, match="No space left on device.*previous file is unchanged"):
        save_document(doc, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["doc.json"]  # no temporary file left behind
    monkeypatch.undo()
    save_document(doc, path)
    assert engine.load_document(path).name == "changed"


def test_failed_rename_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "doc.json"
    doc = parse_document(LENET_TEXT)
    save_document(doc, path)
    old = path.read_bytes()

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.os, "replace", refuse)
    with pytest.raises(NetCanvasError, match="Permission denied"):
        save_document(doc, path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["doc.json"]


def test_save_into_a_missing_folder_creates_it(tmp_path: Path):
    doc = parse_document(LENET_TEXT)
    save_document(doc, tmp_path / "new" / "dir" / "doc.json")
    assert engine.load_document(tmp_path / "new" / "dir" / "doc.json").name == doc.name


def test_a_new_file_gets_the_umask_mode_and_a_saved_one_keeps_its_mode(tmp_path: Path):
    doc = parse_document(LENET_TEXT)
    old = os.umask(0o022)
    try:
        save_document(doc, tmp_path / "new.json")
        assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644  # was 0600
        os.umask(0o077)
        save_document(doc, tmp_path / "private.json")
        assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    (tmp_path / "new.json").chmod(0o664)
    save_document(doc, tmp_path / "new.json")
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o664


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path: Path):
    doc = parse_document(LENET_TEXT)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "doc.json"
    save_document(doc, target)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    doc.name = "through the link"
    save_document(doc, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_json_document(target).name == "through the link"
    assert sorted(os.listdir(tmp_path / "real")) == ["doc.json"]


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(tmp_path: Path):
    doc = parse_document(LENET_TEXT)
    path = tmp_path / "doc.json"
    stale = tmp_path / ".doc.json.k1ll3d.tmp"  # what a save killed before its rename leaves
    stale.write_bytes(b"\0" * 1000)
    os.utime(stale, (time.time() - 60, time.time() - 60))
    other = tmp_path / ".other.json.k1ll3d.tmp"  # another file's: not ours to remove
    other.write_bytes(b"x")
    os.utime(other, (time.time() - 60, time.time() - 60))
    save_document(doc, path)
    assert sorted(os.listdir(tmp_path)) == [".other.json.k1ll3d.tmp", "doc.json"]


@pytest.mark.skipif(fileio.fcntl is None, reason="advisory locks are POSIX")
def test_a_save_in_progress_elsewhere_keeps_its_temporary_file(tmp_path: Path):
    import fcntl

    path = tmp_path / "doc.json"
    busy = tmp_path / ".doc.json.busy.tmp"
    with open(busy, "wb") as handle:  # locked, as a live save in another process holds it
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        os.utime(busy, (time.time() - 60, time.time() - 60))
        save_document(parse_document(LENET_TEXT), path)
        assert busy.exists()
    save_document(parse_document(LENET_TEXT), path)  # its writer is gone now
    assert not busy.exists()


def test_a_save_killed_mid_write_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path: Path):
    """A real kill: a child process dies (SIGKILL) between writing and renaming."""
    import subprocess
    import sys

    path = tmp_path / "doc.json"
    save_document(parse_document(LENET_TEXT), path)
    old = path.read_bytes()
    script = (
        "import os, signal, sys\n"
        "from engine import fileio\n"
        "def die(fd):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "fileio.os.fsync = die\n"
        f"fileio.atomic_write_bytes({str(path)!r}, b'half' * 100000)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert child.returncode == -9
    assert path.read_bytes() == old
    (stale,) = tmp_path.glob(".doc.json.*.tmp")
    os.utime(stale, (time.time() - 60, time.time() - 60))
    save_document(parse_document(LENET_TEXT), path)
    assert os.listdir(tmp_path) == ["doc.json"]


def test_exported_files_get_the_umask_mode_and_keep_links(tmp_path):
    """Exports were written 0600 through mkstemp and replaced a symlink with a file."""
    from engine.fileio import replacing

    real = tmp_path / "real.onnx"
    link = tmp_path / "model.onnx"
    link.symlink_to(real)
    umask = os.umask(0o022)
    try:
        with replacing(link) as tmp:
            tmp.write_bytes(b"first")
    finally:
        os.umask(umask)
    assert link.is_symlink() and real.read_bytes() == b"first"
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    real.chmod(0o640)
    with replacing(link) as tmp:
        tmp.write_bytes(b"second")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640 and real.read_bytes() == b"second"
    assert not list(tmp_path.glob(".*.tmp"))
