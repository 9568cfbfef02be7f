"""The CLI's quick paths, preset names in place of files, `--version`, `--json`, and no display."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

import engine
from engine import presets
from engine.cli import HEADLESS_HELP, main, no_display_reason
from engine.readwrite import save_document
from tests.conftest import ROOT
from tests.helpers import iris_mlp

PROBE = """
import sys
from engine.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("torch", "PySide6", "numpy", "sklearn") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def _probe(*argv: str) -> tuple[int, str, str, list[str]]:
    """Run `netcanvas ARGV` in a fresh interpreter; the modules it imported that are heavy."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "DISPLAY": ""}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
    return done.returncode, done.stdout, done.stderr, [m for m in line[6:].split(",") if m]


@pytest.mark.parametrize("argv, code", [
    (["--help"], 0), (["--version"], 0), (["presets"], 0), (["presets", "--json"], 0),
    (["train"], 2), (["export", "x.ncz", "--format", "nope", "--out", "y"], 2), (["frobnicate"], 2),
])
def test_quick_commands_never_import_torch(argv, code):
    returncode, _, _, heavy = _probe(*argv)
    assert returncode == code
    assert "torch" not in heavy and "PySide6" not in heavy, heavy


def test_importing_engine_loads_nothing_heavy_until_a_name_needs_it():
    returncode, _, stderr, heavy = _probe("--version")
    assert returncode == 0 and heavy == [], stderr
    assert callable(engine.compile_network) and engine.CATALOGUE  # lazily loaded names work


def test_version_matches_the_package_metadata_source(capsys):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "engine.__version__"}
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"netcanvas {engine.__version__}"
    assert main(["--version", "-v"]) == 0
    out = capsys.readouterr().out
    assert "torch 2." in out and "Qt 6." in out and "python 3." in out


def test_presets_prints_name_line_and_path_of_each(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    paths = presets.preset_paths()
    assert len(lines) == len(paths) > 10
    for line, path in zip(lines, paths, strict=True):
        assert line.startswith(path.stem) and line.endswith(str(path))
    assert any("CNN: LeNet on digits (classification on digits)" in line for line in lines)


def test_presets_json_is_a_list_of_existing_files(capsys):
    assert main(["presets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == [p.stem for p in presets.preset_paths()]
    lenet = next(p for p in listed if p["name"] == "lenet_digits")
    assert lenet["task"] == "classification" and lenet["dataset"] == "digits"
    assert all((ROOT / "presets" / f"{p['name']}.json").samefile(p["path"]) for p in listed)


def test_presets_fails_when_none_are_found(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(presets, "PRESETS_DIR", tmp_path)
    assert main(["presets"]) == 1
    assert "no presets found in" in capsys.readouterr().err


def test_presets_folder_is_the_checkout_one_when_not_installed():
    assert presets.presets_dir() == ROOT / "presets"


def test_a_preset_name_works_in_place_of_a_file(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "lenet_digits"]) == 0
    out, err = capsys.readouterr()
    assert "431,080 parameters" in out
    assert "using the preset 'lenet_digits'" in err


def test_a_file_in_the_working_folder_wins_over_the_preset(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    save_document(iris_mlp(), tmp_path / "lenet_digits.json")
    assert main(["check", "lenet_digits"]) == 0
    out, err = capsys.readouterr()
    assert "431,080" not in out and "not the preset 'lenet_digits'" in err


def test_an_unknown_name_is_a_file_error(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "no_such_thing"]) == 1
    assert "no_such_thing" in capsys.readouterr().err


def test_check_json_reports_shapes_and_counts(capsys):
    assert main(["check", "lenet_digits", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["errors"] == []
    main_net = report["networks"]["main"]
    assert main_net["parameters"] == 431_080
    assert [None, 1, 28, 28] in [o for n in main_net["nodes"].values() for o in n["outputs"].values()]


def test_train_json_final_line(tmp_path, capsys):
    save_document(iris_mlp(epochs=1), tmp_path / "m.json")
    assert main(["train", str(tmp_path / "m.json"), "--out", str(tmp_path), "--quiet", "--json"]) == 0
    final = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert final["ok"] is True and final["bundle"] == str(tmp_path / "m.ncz")
    assert 0.0 <= final["metrics"]["test_accuracy"] <= 1.0


@pytest.mark.parametrize("environ, platform, missing", [
    ({}, "linux", True),
    ({"DISPLAY": ":0"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ""}, "freebsd14", True),
    ({}, "win32", False),
    ({}, "darwin", False),
])
def test_no_display_is_detected_only_where_qt_would_abort(environ, platform, missing):
    assert (no_display_reason(environ, platform) is not None) == missing


def test_no_display_says_how_to_run_headless(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "no display found" in err and HEADLESS_HELP in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a display always exists there")
def test_no_display_message_leaves_qt_unloaded():
    returncode, _, stderr, heavy = _probe()
    assert returncode == 1 and "netcanvas --screenshot" in stderr
    assert "PySide6" not in heavy
