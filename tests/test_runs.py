"""The run store: every run in its own folder, its record complete, compared and diffed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import load_document
from engine.cli import main
from engine.data.base import ArrayDataset, DatasetEntry, register
from engine.data.splits import split_indices
from engine.readwrite import save_document
from engine.runs.compare import diff_runs, differing_settings, pareto_front, runs_table
from engine.runs.recorder import RunRecorder
from engine.runs.settings import apply_overrides
from engine.runs.store import CRASHED, default_runs_dir, list_runs, new_run_folder, read_run, write_json
from engine.training import RunOptions, make_trainer
from engine.training.events import Epoch, Failed, Step
from tests.helpers import chain_document, iris_mlp


def _write(doc, folder: Path, name: str = "model.json") -> str:
    path = folder / name
    save_document(doc, path)
    return str(path)


def _tensorboard_scalars(folder: Path) -> tuple[set[str], set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    tags = accumulator.Tags()
    return set(tags["scalars"]), set(accumulator.PluginTagToContent("hparams"))


def test_two_train_runs_give_two_complete_run_folders(tmp_path, capsys):
    path = _write(iris_mlp(epochs=2), tmp_path)
    assert main(["train", path, "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert main(["train", path, "--seed", "7", "--epochs", "1", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    runs = list_runs(tmp_path / "runs")  # default: runs/ beside the document
    assert len(runs) == 2 and runs[0].id != runs[1].id
    first, second = runs
    assert first.status == second.status == "finished"
    assert first.settings["seed"] == 0 and second.settings["seed"] == 7
    assert first.settings["epochs"] == 2 and second.settings["epochs"] == 1
    assert second.settings["device"] == "cpu" and second.settings["precision"] == "fp32"
    assert set(second.record["versions"]) >= {"netcanvas", "torch", "python"}
    assert second.record["parameters"] == 4 * 16 + 16 + 16 * 3 + 3
    assert second.record["nodes"]["main"]["b0"]["macs"] == 4 * 16
    assert "test_accuracy" in second.metrics and second.duration > 0
    # The bundle in the run folder (and the one --out asked for) says the settings used.
    for bundle in (second.bundle, tmp_path / "out" / "model.ncz"):
        trained = load_document(bundle)
        assert trained.training["seed"] == 7 and trained.training["epochs"] == 1
    assert second.record["document"]["training"]["seed"] == 7


def test_metrics_csv_has_a_row_per_step_and_per_epoch(tmp_path, capsys):
    path = _write(iris_mlp(epochs=2, batch_size=32), tmp_path)
    assert main(["train", path, "--out", str(tmp_path), "--quiet", "--runs", str(tmp_path / "store")]) == 0
    run = list_runs(tmp_path / "store")[0]
    text = (run.path / "metrics.csv").read_text().splitlines()
    header = text[0].split(",")
    assert {"kind", "step", "epoch", "loss", "lr", "train_loss", "val_accuracy"} <= set(header)
    kinds = [line.split(",")[0] for line in text[1:]]
    steps = run.record["settings"]["steps_per_epoch"]
    assert kinds.count("step") == 2 * steps and kinds.count("epoch") == 2
    curves = run.curves()
    assert [x for x, _ in curves["val_accuracy"]] == [1.0, 2.0]
    assert len(curves["loss"]) == 2 * steps


def test_tensorboard_reads_the_event_files_with_hyperparameters(tmp_path, capsys):
    path = _write(iris_mlp(epochs=1), tmp_path)
    assert main(["train", path, "--out", str(tmp_path), "--quiet"]) == 0
    scalars, hparams = _tensorboard_scalars(list_runs(tmp_path / "runs")[0].path)
    assert {"step/loss", "train/loss", "val/accuracy", "final/test_accuracy"} <= scalars
    assert hparams  # the hparams plugin's session summaries


def test_runs_json_and_diff_name_what_changed(tmp_path, capsys):
    doc = iris_mlp(epochs=1)
    _write(doc, tmp_path)
    assert main(["train", str(tmp_path / "model.json"), "--quiet", "--out", str(tmp_path)]) == 0
    doc.network().set_param("b0", "out_features", 8)
    _write(doc, tmp_path)
    assert main(["train", str(tmp_path / "model.json"), "--quiet", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["runs", str(tmp_path / "runs"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and {row["status"] for row in rows} == {"finished"}
    assert [row["settings"]["main.b0.out_features"] for row in rows] == [16, 8]
    assert main(["runs", "diff", rows[0]["id"], rows[1]["id"], "--dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "b0.out_features: 16 -> 8" in out and "test_accuracy" in out
    assert main(["runs", str(tmp_path / "runs")]) == 0
    table = capsys.readouterr().out
    assert "main.b0.out_features" in table and rows[1]["id"] in table


def _inf_data(spec, seed):
    x = np.full((40, 2), np.inf, dtype=np.float32)
    return ArrayDataset("runs_inf_data", x, np.zeros((40, 1), np.float32), split_indices(40, seed))


register(DatasetEntry("runs_inf_data", "a loss that is not finite", "arrays", _inf_data,
                      lambda spec: {"x": (None, 2)}))


def test_a_non_finite_loss_is_recorded_as_diverged_with_why(tmp_path, capsys):
    doc = chain_document([("Linear", {"out_features": 1})],
                         {"task": "regression", "dataset": "runs_inf_data", "loss": "mse",
                          "epochs": 3, "device": "cpu"})
    assert main(["train", _write(doc, tmp_path), "--out", str(tmp_path), "--quiet"]) == 1
    run = list_runs(tmp_path / "runs")[0]
    assert run.status == "diverged" and "the loss became" in run.record["reason"]
    assert run.record["ended_at"] is not None and run.bundle is not None  # last good weights kept


def test_the_run_status_follows_the_event_not_the_wording(tmp_path):
    """A crash whose message reads like a guard's is failed; a guard's stop is diverged
    whatever its text says (the status came from the message's first words)."""
    doc = iris_mlp(epochs=1)
    for event, status in ((Failed("the loss diverged in a user's own layer"), "failed"),
                          (Failed("stopped by the guard", diverged=True), "diverged")):
        recorder = RunRecorder(tmp_path, doc, RunOptions(), tensorboard=False)
        with recorder:
            list(recorder.watch(iter([event])))
        assert read_run(recorder.folder).status == status


def test_a_crash_in_the_consumer_leaves_a_failed_run_with_its_rows(tmp_path):
    doc = iris_mlp(epochs=3)
    trainer = make_trainer(doc, RunOptions())
    recorder = RunRecorder(tmp_path, doc, RunOptions(), tensorboard=False)
    with pytest.raises(RuntimeError), recorder:
        for event in recorder.watch(trainer.run()):
            if isinstance(event, Epoch) and event.epoch == 2:
                raise RuntimeError("the program crashed")
    run = read_run(recorder.folder)
    assert run.status == "failed" and "the program crashed" in run.record["reason"]
    kinds = [row["kind"] for row in _rows(run.path)]
    assert kinds.count("epoch") == 2 and kinds.count("step") == 2 * run.record["settings"]["steps_per_epoch"]


def test_a_run_left_running_by_a_dead_process_reads_as_crashed(tmp_path):
    doc = iris_mlp(epochs=1)
    recorder = RunRecorder(tmp_path, doc, RunOptions(), tensorboard=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    record = read_run(recorder.folder).record
    assert read_run(recorder.folder).status == "running"  # this process is alive
    record["process"]["pid"] = int(dead.stdout)
    write_json(recorder.folder / "run.json", record)
    assert read_run(recorder.folder).status == CRASHED
    recorder.close("stopped")


def test_stopping_the_stream_early_marks_the_run_stopped(tmp_path):
    doc = iris_mlp(epochs=3)
    recorder = RunRecorder(tmp_path, doc, RunOptions(), tensorboard=False)
    for event in recorder.watch(make_trainer(doc, RunOptions()).run()):
        if isinstance(event, Step):
            break
    assert read_run(recorder.folder).status == "stopped"


def test_run_folders_are_never_reused(tmp_path):
    folders = {new_run_folder(tmp_path, "Same Name", now=1_700_000_000.0) for _ in range(3)}
    assert len(folders) == 3 and all("-same-name-" in f.name for f in folders)


def test_overrides_are_written_into_the_trained_document():
    doc = iris_mlp(epochs=40, seed=0)
    apply_overrides(doc, RunOptions(seed=7, epochs=3, device="cpu"))
    assert (doc.training["seed"], doc.training["epochs"], doc.training["device"]) == (7, 3, "cpu")
    rl = chain_document([("Linear", {"out_features": 2})],
                        {"task": "dqn", "epochs": 5, "dqn": {"episodes": 100}})
    apply_overrides(rl, RunOptions(epochs=12))
    assert rl.training["dqn"]["episodes"] == 12 and rl.training["epochs"] == 5


def test_default_store_is_beside_the_document_or_here_for_presets(tmp_path, monkeypatch):
    from engine.presets import preset_path

    monkeypatch.chdir(tmp_path)
    assert default_runs_dir(tmp_path / "docs" / "net.json") == (tmp_path / "docs" / "runs").resolve()
    assert default_runs_dir(preset_path("mlp_xor")) == tmp_path / "runs"
    assert default_runs_dir(None) == tmp_path / "runs"


def test_table_shows_only_the_settings_that_differ(tmp_path):
    for lr in (0.1, 0.01):
        doc = iris_mlp(epochs=1, optimizer={"name": "adam", "lr": lr})
        RunRecorder(tmp_path, doc, RunOptions(), tensorboard=False).close("finished", metrics={"acc": lr})
    runs = list_runs(tmp_path)
    assert differing_settings(runs) == ["training.optimizer.lr"]
    rows = runs_table(runs)
    assert [row["settings"] for row in rows] == [{"training.optimizer.lr": 0.1}, {"training.optimizer.lr": 0.01}]
    assert diff_runs(runs[0], runs[1])["metrics"]["acc"]["delta"] == pytest.approx(-0.09)


def test_pareto_front_keeps_the_points_nothing_beats():
    points = [(10, 0.5), (20, 0.9), (15, 0.4), (30, 0.85), (5, 0.2)]
    assert pareto_front(points) == [4, 0, 1]
    assert pareto_front([(1, 3.0), (2, 1.0), (3, 2.0)], maximize=False) == [0, 1]


def _rows(folder: Path) -> list[dict[str, str]]:
    from engine.runs.csvlog import read_rows

    return read_rows(folder / "metrics.csv")


def test_listing_runs_never_imports_torch(tmp_path):
    code = ("import sys; from engine.cli import main; code = main(['runs', sys.argv[1], '--json']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(code)")
    (tmp_path / "runs").mkdir()
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "runs")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_an_unwritable_store_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = _write(iris_mlp(epochs=1), tmp_path)
    assert main(["train", path, "--out", str(tmp_path), "--runs", str(blocker / "runs")]) == 1
    assert "cannot make a run folder" in capsys.readouterr().err


def test_a_cached_listing_reads_only_the_runs_whose_files_changed(tmp_path, monkeypatch):
    """The window lists the store after every run: hundreds of unchanged runs are not read again."""
    from engine.runs import store

    for i in range(3):
        write_json(tmp_path / f"run-{i}" / "run.json", {"status": "finished", "started_at": i})
    cache: store.RunCache = {}
    assert [r.id for r in list_runs(tmp_path, cache)] == ["run-0", "run-1", "run-2"]
    reads = []
    real_read = store.read_run
    monkeypatch.setattr(store, "read_run", lambda folder: reads.append(Path(folder).name) or real_read(folder))
    first = {r.id: r for r in list_runs(tmp_path, cache)}
    assert reads == []  # nothing changed: nothing read
    write_json(tmp_path / "run-1" / "run.json", {"status": "failed", "started_at": 1})
    read_run(tmp_path / "run-2").set_notes(star=True)  # notes.json, written from elsewhere
    write_json(tmp_path / "run-3" / "run.json", {"status": "finished", "started_at": 3})
    (tmp_path / "run-0" / "run.json").unlink()
    listed = {r.id: r for r in list_runs(tmp_path, cache)}
    assert sorted(reads) == ["run-1", "run-2", "run-3"]
    assert listed.keys() == {"run-1", "run-2", "run-3"} and listed["run-1"].status == "failed"
    assert listed["run-2"].notes == {"star": True} and listed["run-2"] is not first["run-2"]
    assert tmp_path / "run-0" not in cache  # a gone run leaves the cache
