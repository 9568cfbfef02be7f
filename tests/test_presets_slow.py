"""Every preset reaches its published-grade target from its own seed (`pytest -m slow`)."""

from __future__ import annotations

import pytest

from benchmarks.presets_benchmark import train_preset
from engine.presets import Expectation, load_preset, preset_paths
from engine.training import Failed, Finished, make_trainer

pytestmark = pytest.mark.slow

TRAINED: dict = {}
RESULTS: dict = {}
NEEDS_DOWNLOAD = ("gcn_cora", "gat_cora")  # trained on a Cora-shaped stand-in in test_cora_slow.py
ORDER = ["lenet_digits", "rnn_delayed_copy"] + sorted(
    p.stem for p in preset_paths() if p.stem not in ("lenet_digits", "rnn_delayed_copy", *NEEDS_DOWNLOAD))


@pytest.mark.parametrize("name", ORDER)
def test_preset_reaches_its_target(name):
    metrics, seconds, failure = train_preset(name, TRAINED)
    assert not failure, failure
    RESULTS[name] = metrics
    expect = Expectation.of(load_preset(name))
    assert expect.metric in metrics, sorted(metrics)
    assert expect.met(metrics, seconds, RESULTS), (
        f"{name}: {expect.metric} = {metrics[expect.metric]} in {seconds:.0f} s; "
        f"target {expect.target_text()}")


def test_deep_sort_needs_its_depth():
    """transformer_deep_sort with one encoder block instead of four stays far below its target
    (measured 74.0% against 96.9%): the task needs the depth, not just the training."""
    doc = load_preset("transformer_deep_sort")
    doc.network("main").set_param("encoder", "repeat", 1)
    result = None
    for event in make_trainer(doc).run():
        if isinstance(event, Finished | Failed):
            result = event
    assert isinstance(result, Finished), getattr(result, "message", result)
    shallow = result.metrics["test_accuracy"]
    assert shallow < 0.85 < Expectation.of(doc).at_least, shallow
