"""`netcanvas sweep`: parameters parsed and applied, trials recorded as runs, resumed after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.presets import load_preset
from engine.runs.space import SweepError, apply_param, check_param, parse_param
from engine.runs.store import CRASHED, list_runs

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["sweep", "mlp_xor", "--param", "training.optimizer.lr=0.001,0.01,0.03", "--trials", "3",
         "--search", "grid", "--metric", "test_accuracy", "--epochs", "1", "--seed", "3"]


def test_values_are_lists_or_ranges():
    assert parse_param("training.optimizer.lr=1e-4,1e-3").values == (1e-4, 1e-3)
    assert parse_param("act.kind=relu,tanh").values == ("relu", "tanh")
    span = parse_param("fc1.out_features=16:256")
    assert (span.low, span.high, span.integer, span.log) == (16, 256, True, False)
    log = parse_param("training.optimizer.lr=1e-4:1e-1:log")
    assert log.log and not log.integer and log.low == pytest.approx(1e-4)
    assert parse_param("b.n=2:4").grid() == [2, 3, 4]
    for bad in ("lr", "training.lr=", "x.y=5:1", "x.y=0:1:log", "x.y=1:2:3"):
        with pytest.raises(SweepError):
            parse_param(bad)
    with pytest.raises(SweepError, match="grid search needs a list"):
        log.grid()


def test_paths_reach_training_settings_and_node_parameters():
    doc = load_preset("mlp_xor")
    apply_param(doc, "training.optimizer.lr", 0.5)
    apply_param(doc, "hidden.out_features", 9)
    apply_param(doc, "training.scheduler.gamma", 0.9)
    assert doc.training["optimizer"]["lr"] == 0.5 and doc.training["scheduler"] == {"gamma": 0.9}
    assert doc.network().nodes["hidden"].params["out_features"] == 9
    with pytest.raises(SweepError, match="no node 'fc9'.*hidden"):
        check_param(doc, parse_param("fc9.out_features=1,2"))


def test_a_three_trial_sweep_records_three_runs_a_study_and_a_table(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main([*SWEEP, "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    recorded = list_runs(runs)
    assert len(recorded) == 3 and {r.status for r in recorded} <= {"finished", "pruned"}
    assert sorted(r.record["sweep"]["trial"] for r in recorded) == [0, 1, 2]
    assert sorted(r.record["sweep"]["params"]["training.optimizer.lr"] for r in recorded) == [0.001, 0.01, 0.03]
    assert {r.record["document"]["training"]["optimizer"]["lr"] for r in recorded} == {0.001, 0.01, 0.03}
    studies = list((runs / "sweeps").glob("*/study.db"))
    assert len(studies) == 1
    lines = out.strip().splitlines()
    assert lines[1].split()[:4] == ["rank", "trial", "state", "test_accuracy"]
    assert len(lines) == 5 and all(r.id in out for r in recorded)
    values = [float(line.split()[3]) for line in lines[2:] if line.split()[2] == "complete"]
    assert values == sorted(values, reverse=True)  # best first
    # The same command again finds the finished study and runs nothing more.
    assert main([*SWEEP, "--runs", str(runs), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["trials"]) == 3 and len(list_runs(runs)) == 3


def test_a_killed_sweep_finishes_its_remaining_trials_when_run_again(tmp_path):
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "engine.cli", *SWEEP, "--runs", str(runs), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        while not list(runs.glob("*/run.json")) and child.poll() is None:
            time.sleep(0.05)  # waiting for the first trial's folder, not timing anything
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    first = list(runs.glob("*/run.json"))
    assert first, "the sweep never started a trial"
    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    finished = [r for r in list_runs(runs) if r.status in ("finished", "pruned")]
    assert sorted(r.record["sweep"]["params"]["training.optimizer.lr"] for r in finished) == [0.001, 0.01, 0.03]
    # The trial the kill interrupted (if it was) is recorded as failed, not left running.
    assert all(r.status not in ("running", CRASHED) for r in list_runs(runs))
    assert len(again.stdout.strip().splitlines()) == 5  # title, header, three trials


def test_hopeless_trials_are_pruned_from_their_epoch_metrics(tmp_path):
    import optuna

    from engine.presets import preset_path
    from engine.runs.sweep import SweepPlan, make_objective

    plan = SweepPlan(file=str(preset_path("mlp_xor")), params=["training.optimizer.lr=0.01"],
                     metric="val_accuracy", epochs=5, runs=str(tmp_path / "runs"))
    # A pruner that finds every trial hopeless once it has reported an epoch.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(make_objective(plan, lambda text: None), n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED
    run = list_runs(tmp_path / "runs")[0]
    assert run.status == "pruned" and "pruned after epoch 1" in run.record["reason"]
    epochs = [row for row in run.curves().get("val_accuracy", [])]
    assert len(epochs) < 5  # stopped early


def test_jobs_run_trials_in_parallel_processes(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["sweep", "mlp_xor", "--param", "training.optimizer.lr=0.001,0.03", "--search", "grid",
                 "--metric", "test_accuracy", "--epochs", "1", "--jobs", "2", "--runs", str(runs)]) == 0
    recorded = list_runs(runs)
    assert len(recorded) == 2 and {r.status for r in recorded} == {"finished"}
    assert len({r.record["process"]["pid"] for r in recorded}) == 2  # two processes trained
    assert len(capsys.readouterr().out.strip().splitlines()) == 4


def test_a_resumed_random_sweep_does_not_repeat_its_first_points(tmp_path, capsys):
    runs = tmp_path / "runs"
    base = ["sweep", "mlp_xor", "--param", "training.optimizer.lr=1e-4:1e-1:log", "--search", "random",
            "--metric", "test_accuracy", "--epochs", "1", "--runs", str(runs), "--name", "again"]
    assert main([*base, "--trials", "1"]) == 0
    assert main([*base, "--trials", "2"]) == 0  # the same study, one trial more
    rates = [r.record["sweep"]["params"]["training.optimizer.lr"] for r in list_runs(runs)]
    assert len(rates) == 2 and rates[0] != rates[1]
