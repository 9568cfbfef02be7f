"""LeNet reaches its preset target on the CPU in bf16 and compiled (`pytest -m slow`).

The same documents and target as `tests/test_presets_slow.py`; only the run options change.
Compiled runs use the real inductor backend, so they need a C++ compiler (skipped without).
"""

from __future__ import annotations

import pytest
import torch

from engine.presets import Expectation, load_preset
from engine.training import Finished, Notice, make_trainer
from engine.training.precision import compile_problem

pytestmark = pytest.mark.slow


def _train_lenet(**options) -> tuple[dict, list]:
    doc = load_preset("lenet_digits")
    doc.training["device"] = "cpu"
    events = list(make_trainer(doc, **options).run())
    assert isinstance(events[-1], Finished), events[-1]
    return events[-1].metrics, events


def _assert_target(metrics: dict) -> None:
    expect = Expectation.of(load_preset("lenet_digits"))
    assert expect.met(metrics, 0.0), (
        f"lenet_digits: {expect.metric} = {metrics.get(expect.metric)}; target {expect.target_text()}")


def test_lenet_reaches_its_target_in_bf16():
    metrics, events = _train_lenet(precision="bf16")
    assert events[0].notes == ()  # bf16 really ran (it is not refused on the CPU)
    _assert_target(metrics)


def test_lenet_reaches_its_target_compiled():
    problem = compile_problem(torch.device("cpu"))
    if problem:
        pytest.skip(problem)
    torch._dynamo.reset()
    metrics, events = _train_lenet(compile=True)
    assert events[0].notes == () and not any(isinstance(e, Notice) for e in events), \
        "torch.compile fell back to eager: this run did not test compilation"
    _assert_target(metrics)
