"""torch.compile through the trainer base: plain weights, watched activations, and an eager
fallback that says so, whether the backend is missing up front or fails at its first call.

Dynamo runs with its "eager" backend here (tracing, no code generation: seconds, not a
minute); `tests/test_presets_slow.py` trains LeNet with the real inductor backend.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from engine.training import Activations, Finished, Notice, make_trainer
from engine.training import precision as precision_module
from engine.training.precision import compile_problem
from tests.helpers import iris_mlp
from tests.test_training_loop import weights_equal


@pytest.fixture
def dynamo_only(monkeypatch):
    torch._dynamo.reset()
    monkeypatch.setattr(precision_module, "COMPILE_BACKEND", "eager")
    yield
    torch._dynamo.reset()


def _run(doc, **options):
    trainer = make_trainer(doc, **options)
    events = list(trainer.run())
    assert isinstance(events[-1], Finished), events[-1]
    return trainer, events


def test_compiled_training_keeps_plain_weights_and_matches_eager(dynamo_only):
    eager_doc, compiled_doc = iris_mlp(epochs=2), iris_mlp(epochs=2)
    _run(eager_doc)
    trainer, events = _run(compiled_doc, compile=True)
    assert events[0].notes == () and not any(isinstance(e, Notice) for e in events)
    assert trainer.acceleration._compiled  # the network did run compiled
    compiled_forward = next(iter(trainer.acceleration._compiled.values()))
    assert compiled_forward.compiled is not None  # and never fell back
    assert list(compiled_doc.weights["main"]) == list(eager_doc.weights["main"])  # no _orig_mod.
    for key, value in eager_doc.weights["main"].items():
        assert torch.allclose(compiled_doc.weights["main"][key], value, atol=1e-5)


def test_watched_activations_still_arrive_when_compiled(dynamo_only):
    doc = iris_mlp(epochs=1)
    _, events = _run(doc, compile=True, watch=["b1"], activation_interval=0.0)
    captured = [e for e in events if isinstance(e, Activations)]
    assert captured and captured[0].tensors["b1"].shape == (16,)


def test_a_backend_failing_at_its_first_call_falls_back_to_eager_with_a_notice(monkeypatch):
    """Simulates inductor without a working compiler: the run finishes as an eager run."""
    calls = []

    def broken_compile(model, backend=None):
        def compiled(*inputs):
            calls.append(backend)
            raise RuntimeError("InductorError: CppCompileError: C++ compile error\nmore")
        return compiled

    monkeypatch.setattr(precision_module, "compile_problem", lambda device: None)
    monkeypatch.setattr(precision_module.torch, "compile", broken_compile)
    eager_doc, fallback_doc = iris_mlp(epochs=2), iris_mlp(epochs=2)
    _run(eager_doc)
    _, events = _run(fallback_doc, compile=True)
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(calls) == 1  # tried once, then eager for good
    assert len(notices) == 1 and "torch.compile failed" in notices[0].message
    assert "CppCompileError" in notices[0].message and "eager" in notices[0].message
    assert weights_equal(fallback_doc.weights, eager_doc.weights)


def test_a_network_error_under_compile_is_the_networks_not_a_fallback():
    """When the eager re-run fails too, the error is the model's and propagates as usual."""
    notes: list[str] = []
    model = torch.nn.Linear(3, 2)
    forward = precision_module.CompiledForward(model, model, notes.append)
    with pytest.raises(RuntimeError):
        forward(torch.ones(1, 5))  # the wrong width, compiled or not
    assert notes == [] and forward.compiled is not None


def test_a_missing_compiler_is_found_up_front_and_named_in_started(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "C++ compiler" in compile_problem(torch.device("cpu"))
    eager_doc, doc = iris_mlp(epochs=1), iris_mlp(epochs=1)
    _run(eager_doc)
    trainer, events = _run(doc, compile=True)
    assert any("C++ compiler" in n and "uncompiled" in n for n in events[0].notes)
    assert not trainer.acceleration._compiled
    assert weights_equal(doc.weights, eager_doc.weights)


def test_devices_without_an_inductor_backend_are_named():
    assert "mps" in compile_problem(torch.device("mps"))
