"""The one training loop: a single update path, checkpoints and exact resume for every
paradigm, the divergence guard and bounded histories."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import pytest
import torch

from engine import load_document
from engine.bundle import save_bundle
from engine.cli import main
from engine.presets import load_preset
from engine.readwrite import save_document
from engine.training import Checkpoint, Episode, Failed, Finished, make_trainer
from engine.training.guards import exploded
from engine.training.history import History, Trace
from tests.helpers import iris_mlp
from tests.test_trainers_gan import ring_gan
from tests.test_trainers_other import gcn_doc, perceptron_doc
from tests.test_trainers_rl import dqn_doc, q_doc

TRAINING = Path(__file__).resolve().parent.parent / "engine" / "training"


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[n].keys() == b[n].keys() and torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


def test_zero_grad_is_called_in_exactly_one_place():
    """Every optimizer update goes through Trainer.apply, so features attach once."""
    hits = [(path.name, line) for path in sorted(TRAINING.glob("*.py"))
            for line in path.read_text().splitlines() if re.search(r"\bzero_grad\(", line)]
    assert len(hits) == 1 and hits[0][0] == "base.py", hits


# ---- checkpoints: every paradigm, counting epochs or episodes ------------------------------

PARADIGMS = {
    "classification": lambda: iris_mlp(epochs=2),
    "gan": lambda: ring_gan(epochs=2),
    "node_classification": lambda: gcn_doc(epochs=2),
    "perceptron": lambda: perceptron_doc(3, "test_three_blobs", epochs=2),
    "dqn": lambda: dqn_doc(episodes=3, learning_starts=8, batch_size=8),
    "q_learning": lambda: q_doc(episodes=3, eval_episodes=2),
}


@pytest.mark.parametrize("task", sorted(PARADIGMS))
def test_checkpoint_every_writes_a_resumable_bundle_for_every_paradigm(task, tmp_path):
    doc = PARADIGMS[task]()
    target = tmp_path / "run.ncz"
    events = list(make_trainer(doc, checkpoint_path=str(target), checkpoint_every=1).run())
    assert isinstance(events[-1], Finished), events[-1]
    done = doc.train_state["epoch"]  # epochs, or episodes for RL
    assert done >= 2 or task == "perceptron"
    assert [c.epoch for c in events if isinstance(c, Checkpoint)] == list(range(1, done + 1))
    saved = load_document(target)
    assert saved.train_state["task"] == doc.train_state["task"]
    assert saved.train_state["epoch"] == done and set(saved.weights) == set(doc.weights)


# ---- resume continues exactly -------------------------------------------------------------


def _rewards(events) -> list[float]:
    return [e.reward for e in events if isinstance(e, Episode)]


def _split_run(make, total: int, path: Path) -> tuple:
    """The same run straight through, and in two halves with a bundle between them."""
    whole = make()
    straight = _rewards(make_trainer(whole).run())
    first = make()
    halves = _rewards(make_trainer(first, epochs=total // 2).run())
    save_bundle(first, None, path)
    resumed = load_document(path)
    halves += _rewards(make_trainer(resumed, resume=True, epochs=total).run())
    return whole, straight, resumed, halves


def test_dqn_resume_restores_the_replay_buffer_and_continues_exactly(tmp_path, monkeypatch):
    path = tmp_path / "dqn.ncz"

    def make():
        return dqn_doc("CartPole-v1", episodes=12, learning_starts=16, eval_episodes=2)

    def refuse(*args, **kwargs):
        raise AssertionError("a bundle must load without unpickling")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    whole, straight, resumed, halves = _split_run(make, 12, path)
    assert len(straight) == 12 and halves == straight
    assert weights_equal(whole.weights, resumed.weights)
    buffer = resumed.train_state["extra"]["buffer"]
    assert buffer["size"] == whole.train_state["extra"]["env_steps"]
    assert isinstance(buffer["states"], torch.Tensor) and buffer["states"].shape == (buffer["size"], 4)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["document.json", "metrics.json", "train_state.json",
                                         "train_state.safetensors", "weights.safetensors"]
        assert b"buffer" in zf.read("train_state.safetensors")  # stored as safetensors tensors


def test_q_learning_resume_continues_exactly(tmp_path):
    whole, straight, resumed, halves = _split_run(
        lambda: q_doc(True, episodes=300, report_every=10), 300, tmp_path / "q.ncz")
    assert len(straight) == 30 and halves == straight
    assert weights_equal(whole.weights, resumed.weights)


# ---- divergence ---------------------------------------------------------------------------


def wild_iris(epochs: int = 3):
    """The iris preset at lr 1e30: its loss reaches 1e30 and stays finite (it was "done")."""
    doc = load_preset("feedforward_iris")
    doc.training.update(epochs=epochs, device="cpu")
    doc.training["optimizer"] = {**doc.training.get("optimizer", {}), "lr": 1e30}
    return doc


def test_a_finite_but_exploding_loss_fails_as_diverged_keeping_the_last_good_weights():
    doc = wild_iris()
    events = list(make_trainer(doc).run())
    failed = events[-1]
    assert isinstance(failed, Failed) and "diverged" in failed.message and failed.diverged
    assert "epoch 1" in failed.message and "lower learning rate" in failed.message
    untrained = wild_iris(epochs=0)
    list(make_trainer(untrained).run())  # the weights the run started from
    assert weights_equal(doc.weights, untrained.weights)


def test_netcanvas_train_exits_non_zero_on_divergence(tmp_path, capsys):
    path = tmp_path / "wild.json"
    save_document(wild_iris(), path)
    assert main(["train", str(path), "--out", str(tmp_path), "--quiet"]) == 1
    assert "diverged" in capsys.readouterr().err
    assert load_document(tmp_path / "wild.ncz").weights  # the last good weights are saved


def test_the_divergence_rule():
    assert not exploded(5.0, 1.0, 0.9, 0.1)  # an over-confident but good classifier
    assert not exploded(5e3, 1.0, 0.9, 0.1)  # 5000x, but it still classifies
    assert exploded(5e3, 1.0, 0.12, 0.1)  # 5000x and at chance
    assert exploded(5e3, 1.0, None, None)  # no accuracy to speak for it (regression)
    assert exploded(1e30, 1.1, 0.73, 1 / 3)  # astronomically far, whatever the accuracy
    assert not exploded(0.5, 1e-9, None, None)  # a run starting near zero: judged on the floor
    assert exploded(float("inf"), 1.0, None, None)


def test_well_behaved_runs_are_not_called_diverged():
    for doc in (iris_mlp(epochs=5), gcn_doc(epochs=10)):
        assert isinstance(list(make_trainer(doc).run())[-1], Finished)


# ---- bounded histories ---------------------------------------------------------------------


def test_a_trace_keeps_recent_points_exactly_and_a_thinned_past():
    short = Trace(recent=10, past=10)
    for i in range(15):
        short.append(i)
    assert short.values() == list(range(15))  # under the bound: everything, in order
    trace = Trace(recent=100, past=50)
    for i in range(100_000):
        trace.append(i)
    values = trace.values()
    assert len(values) <= 150 and values[-100:] == list(range(99_900, 100_000))
    past = values[:-100]
    assert past[0] == 0 and past == sorted(past) and len(set(past)) == len(past)
    steps = {b - a for a, b in zip(past, past[1:], strict=False)}
    assert steps == {trace.stride}  # evenly thinned


def test_history_round_trips_through_plain_lists():
    history = History(recent=4, past=4)
    for i in range(6):
        history.record("epoch_train", {"loss": float(i)})
    saved = history.as_dict()
    assert saved["epoch_train"][-1] == {"loss": 5.0} and len(saved["epoch_train"]) == 6
    assert History.from_dict(saved, 4, 4).as_dict() == saved
