"""Every preset loads, checks, compiles and learns something in a few steps (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.compiler import compile_network
from engine.presets import DEFAULT_PRESET, Expectation, load_preset, preset_paths
from engine.shapes import check
from engine.training import Episode, Failed, Finished, Samples, Step, make_trainer

NAMES = [p.stem for p in preset_paths()]
# Presets whose dataset must be downloaded first: they check and compile, no training here.
NEEDS_DOWNLOAD = {"gcn_cora", "gat_cora"}
RL = {"dqn_cartpole", "q_learning_frozenlake"}


def test_every_mission_architecture_has_a_preset():
    tasks = {load_preset(n).training["task"] for n in NAMES}
    assert tasks >= {"perceptron", "classification", "regression", "autoencoder", "gan", "dqn",
                     "q_learning", "node_classification", "sequence"}
    assert DEFAULT_PRESET == "lenet_digits"


@pytest.mark.parametrize("name", NAMES)
def test_preset_checks_and_compiles(name):
    doc = load_preset(name)
    report = check(doc)
    assert report.ok, report.errors
    assert doc.description and len(doc.description) > 200
    assert Expectation.of(doc) is not None
    for network in doc.networks:
        model = compile_network(doc, network)
        assert sum(p.numel() for p in model.parameters()) == report.networks[network].parameters
    xs = [n.pos[0] for n in doc.network(next(iter(doc.networks))).nodes.values()]
    assert xs == sorted(xs) or len(set(xs)) > 1  # laid out left to right


def test_lenet_preset_is_the_seed_simple_cnn():
    report = check(load_preset("lenet_digits"))
    assert report.networks["main"].parameters == 431_080


def test_gan_preset_has_the_write_up_parameter_counts():
    report = check(load_preset("gan_digits"))
    assert report.networks["generator"].parameters == 1_486_352
    assert report.networks["discriminator"].parameters == 1_460_225


def _few_steps(name: str) -> list:
    doc = load_preset(name)
    doc.training["device"] = "cpu"
    if name in RL:
        return list(make_trainer(doc, epochs=12).run())
    if name.startswith("gan"):  # samples come at the end of each epoch
        return list(make_trainer(doc, epochs=1).run())
    # A graph is one sample: an epoch is one step, so a graph preset gets its 30 steps as epochs
    # (two noisy steps under attention dropout need not go downhill).
    graph = doc.training.get("task") == "node_classification"
    trainer = make_trainer(doc, epochs=30 if graph else 2)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Step) and event.step >= 30:
            trainer.stop()
    return events


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NEEDS_DOWNLOAD])
def test_preset_trains_a_few_steps(name):
    events = _few_steps(name)
    assert not isinstance(events[-1], Failed), events[-1]
    assert isinstance(events[-1], Finished)
    if name in RL:
        episodes = [e for e in events if isinstance(e, Episode)]
        assert len(episodes) >= 10 and all(np.isfinite(e.reward) for e in episodes)
        return
    steps = [e for e in events if isinstance(e, Step)]
    assert len(steps) >= 2
    if name.startswith("gan"):
        assert any(isinstance(e, Samples) for e in events)
        assert all(set(s.losses) == {"generator", "discriminator"} for s in steps)
        return
    head, tail = steps[: max(len(steps) // 4, 1)], steps[-max(len(steps) // 4, 1):]
    assert np.mean([s.loss for s in tail]) < np.mean([s.loss for s in head])


def test_presets_command_lists_every_preset(capsys):
    assert cli_main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES)


def test_installed_preset_files_are_found_before_the_checkout(tmp_path, monkeypatch):
    """A wheel puts presets/*.json in engine/preset_files/ (setup.py maps the folder there)."""
    import importlib
    import sys

    import engine
    from engine import presets

    installed = tmp_path / "site" / "preset_files"
    installed.mkdir(parents=True)
    (installed / "only_here.json").write_text("{}")
    monkeypatch.setattr(engine, "__path__", [*engine.__path__, str(tmp_path / "site")])
    monkeypatch.delitem(sys.modules, "engine.preset_files", raising=False)
    importlib.invalidate_caches()
    assert presets.presets_dir() == installed
    monkeypatch.undo()
    sys.modules.pop("engine.preset_files", None)
    assert presets.presets_dir() == presets.CHECKOUT_DIR

