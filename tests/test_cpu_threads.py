"""A run sizes its first step and trains a small one on one CPU thread (engine/training/threads.py).

Each test sets the count it starts from and puts the suite's back, so none depends
on the machine's cores."""

from __future__ import annotations

import argparse

import pytest
import torch

from engine.cli import build_parser
from engine.training import Notice, RunOptions, Step, make_trainer
from engine.training.cli import train_options
from engine.training.threads import SMALL_STEP_FLOPS, SPLIT_ELEMENTS, CpuThreads, StepSize, measure_step
from tests.helpers import chain_document, iris_mlp


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def wide_mlp() -> object:
    """An iris network whose hidden layer (16 × 4096 a batch) is past the split limit."""
    return chain_document([("Linear", {"out_features": 4096}), ("ReLU", {}),
                           ("Linear", {"out_features": 3})],
                          {"task": "classification", "dataset": "iris", "loss": "cross_entropy",
                           "epochs": 1, "batch_size": 16, "seed": 0, "device": "cpu"})


def threads_per_step(doc, options: RunOptions) -> tuple[list[int], list[str]]:
    """The thread count as each Step arrives (the generator is paused there), and the notices."""
    counts, notices = [], []
    for event in make_trainer(doc, options).run():
        if isinstance(event, Step):
            counts.append(torch.get_num_threads())
        elif isinstance(event, Notice):
            notices.append(event.message)
    return counts, notices


def test_a_step_is_measured_by_its_operations_and_its_largest_tensor():
    x, w = torch.randn(8, 16), torch.randn(16, 4)
    result, size = measure_step(lambda batch: (batch @ w).relu(), x)
    assert result.shape == (8, 4)
    assert size.flops == 2 * 8 * 16 * 4  # the matrix product; relu has no formula
    assert size.largest_tensor == 8 * 4


def test_small_means_under_both_limits():
    assert StepSize(SMALL_STEP_FLOPS - 1, SPLIT_ELEMENTS - 1).small
    assert not StepSize(SMALL_STEP_FLOPS, 10).small
    assert not StepSize(10, SPLIT_ELEMENTS).small
    assert "4,352 floating-point operations" in StepSize(4352, 128).describe()
    assert "12.5 million" in StepSize(12_500_000, 128).describe()


def test_a_small_network_trains_on_one_thread_after_its_first_step(two_threads):
    counts, notices = threads_per_step(iris_mlp(epochs=2, batch_size=8), RunOptions())
    assert counts and set(counts) == {1}
    assert len(notices) == 1 and "1 CPU thread instead of 2" in notices[0]
    assert torch.get_num_threads() == 2  # the run leaves the count as it found it


def test_a_network_past_the_limits_keeps_torchs_count(two_threads):
    counts, notices = threads_per_step(wide_mlp(), RunOptions())
    assert counts and set(counts) == {2}
    assert not any("CPU thread" in n for n in notices)


def test_a_count_asked_for_is_used_as_given(two_threads):
    counts, notices = threads_per_step(iris_mlp(epochs=1), RunOptions(threads=3))
    assert set(counts) == {3} and not any("CPU thread" in n for n in notices)
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="at least 1"):
        CpuThreads(0, adaptive=True)


def test_a_stopped_run_also_leaves_the_count_as_it_found_it(two_threads):
    trainer = make_trainer(iris_mlp(epochs=50), RunOptions())
    for event in trainer.run():
        if isinstance(event, Step):
            trainer.stop()
    assert torch.get_num_threads() == 2


def test_where_the_first_step_says_nothing_the_count_is_left(two_threads, monkeypatch):
    """A GPU run, a compiled one or a torchrun rank is not sized."""
    from engine.training.base import Trainer

    monkeypatch.setattr(Trainer, "_threads_adapt", lambda self: False)
    counts, _ = threads_per_step(iris_mlp(epochs=1), RunOptions())
    assert set(counts) == {2}
    assert not CpuThreads(None, adaptive=False).sizing


def test_a_small_network_trains_to_the_same_weights_from_any_starting_count():
    """No operation of a small step is split, so the machine's cores change nothing."""
    previous, weights = torch.get_num_threads(), []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            doc = iris_mlp(epochs=2, batch_size=8)
            list(make_trainer(doc, RunOptions()).run())
            weights.append(doc.weights["main"])
    finally:
        torch.set_num_threads(previous)
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_netcanvas_train_takes_a_thread_count(capsys):
    args = build_parser().parse_args(["train", "m.json", "--threads", "3"])
    assert train_options(args, iris_mlp()).threads == 3
    assert train_options(argparse.Namespace(device=None, seed=None, epochs=None),
                         iris_mlp()).threads is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "m.json", "--threads", "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_a_small_q_network_trains_on_one_thread_after_its_first_update(two_threads):
    """The episodic loop sizes its first gradient step as the epoch loop sizes its first step."""
    from tests.test_trainers_rl import dqn_doc

    counts, notices = threads_per_step(dqn_doc(episodes=10), RunOptions())
    assert counts and set(counts) == {1}
    assert len(notices) == 1 and "1 CPU thread instead of 2" in notices[0]
    assert torch.get_num_threads() == 2
