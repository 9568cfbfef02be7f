"""Precision through the trainer base: fp32 stays the exact old loop, bf16 autocasts every
gradient paradigm on the CPU, fp16 is refused on the CPU and its GradScaler path resumes."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from engine import load_document
from engine.bundle import save_bundle
from engine.cli import PRECISIONS as CLI_PRECISIONS
from engine.cli import build_parser, main
from engine.errors import NetCanvasError
from engine.training import Failed, Finished, Started, make_trainer
from engine.training import precision as precision_module
from engine.training.feeding import first_output
from engine.training.precision import Acceleration
from engine.training.schema import lookup
from tests.test_training_loop import PARADIGMS, weights_equal

GRADIENT = ("classification", "gan", "node_classification", "dqn")
RULES = ("perceptron", "q_learning")


def _old_forward(self, model, *inputs):
    """Trainer.forward as it was before precision and compile existed (the reference)."""
    return first_output(model(*inputs))


def _old_apply(self, loss, optimizer, clip=None):
    """Trainer.apply as it was before precision and compile existed (the reference)."""
    value = self.check_loss(loss)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    return value


def _run(doc, **options):
    events = list(make_trainer(doc, **options).run())
    assert isinstance(events[-1], Finished), events[-1]
    return events


@pytest.mark.parametrize("task", sorted(PARADIGMS))
def test_the_default_run_is_byte_identical_to_the_plain_loop(task):
    """Defaults (fp32, no compile) give the very bytes of the loop without precision/compile."""
    reference_doc = PARADIGMS[task]()
    reference = make_trainer(reference_doc)
    reference.forward = types.MethodType(_old_forward, reference)
    reference.apply = types.MethodType(_old_apply, reference)
    assert isinstance(list(reference.run())[-1], Finished)
    default_doc, explicit_doc = PARADIGMS[task](), PARADIGMS[task]()
    _run(default_doc)
    started = _run(explicit_doc, precision="fp32", compile=False)[0]
    assert isinstance(started, Started) and started.notes == ()
    assert weights_equal(default_doc.weights, reference_doc.weights)
    assert weights_equal(explicit_doc.weights, reference_doc.weights)


@pytest.mark.parametrize("task", GRADIENT)
def test_bf16_autocasts_every_gradient_paradigm_on_the_cpu(task, monkeypatch):
    """bf16 lowers the matmuls (the weights change differently) and every loss stays float32."""
    losses: list[torch.dtype] = []
    real_check = make_trainer(PARADIGMS[task]()).check_loss.__func__

    def check(self, loss):
        losses.append(loss.dtype)
        return real_check(self, loss)

    monkeypatch.setattr(type(make_trainer(PARADIGMS[task]())), "check_loss", check)
    fp32_doc, bf16_doc = PARADIGMS[task](), PARADIGMS[task]()
    _run(fp32_doc)
    started = _run(bf16_doc, precision="bf16")[0]
    assert started.notes == ()
    assert losses and set(losses) == {torch.float32}
    assert not weights_equal(fp32_doc.weights, bf16_doc.weights)
    for weights in bf16_doc.weights.values():  # the weights themselves stay float32
        assert all(w.dtype == torch.float32 for w in weights.values() if w.is_floating_point())


@pytest.mark.parametrize("task", RULES)
def test_rule_based_paradigms_run_fp32_and_say_so(task):
    """The perceptron rule and the tabular update have no gradient: bf16 does not apply."""
    fp32_doc, bf16_doc = PARADIGMS[task](), PARADIGMS[task]()
    _run(fp32_doc)
    started = _run(bf16_doc, precision="bf16")[0]
    assert any("bf16 does not apply" in note and "fp32" in note for note in started.notes)
    assert weights_equal(fp32_doc.weights, bf16_doc.weights)


def test_fp16_on_the_cpu_is_refused_with_a_clear_message():
    events = list(make_trainer(PARADIGMS["classification"](), precision="fp16").run())
    assert isinstance(events[-1], Failed)
    assert "fp16 needs a CUDA GPU" in events[-1].message and "bf16" in events[-1].message


def test_the_document_setting_is_read_and_the_option_overrides_it():
    doc = PARADIGMS["classification"]()
    doc.training["precision"] = "fp16"
    assert isinstance(list(make_trainer(doc).run())[-1], Failed)
    doc = PARADIGMS["classification"]()
    doc.training["precision"] = "fp16"
    _run(doc, precision="fp32")


def test_autocast_output_is_float32_and_fp32_adds_nothing():
    linear = nn.Linear(4, 3)
    x = torch.randn(2, 4)
    bf16 = Acceleration("bf16", False, torch.device("cpu"))
    with bf16.autocast():
        lowered = linear(x)
    assert lowered.dtype == torch.bfloat16 and bf16.output(lowered).dtype == torch.float32
    fp32 = Acceleration("fp32", False, torch.device("cpu"))
    with fp32.autocast():
        plain = linear(x)
    assert fp32.output(plain) is plain and plain.dtype == torch.float32
    with pytest.raises(NetCanvasError, match="unknown precision 'fp8'"):
        Acceleration("fp8", False, torch.device("cpu"))


# ---- fp16's GradScaler (the CUDA path, exercised on the CPU's float16 autocast) -----------


@pytest.fixture
def cpu_fp16(monkeypatch):
    """Allow fp16 on the CPU, so the GradScaler path the GPU takes runs here."""
    monkeypatch.setattr(precision_module, "precision_problem", lambda name, device: None)


def test_fp16_steps_each_optimizer_through_its_own_grad_scaler(cpu_fp16):
    doc = PARADIGMS["gan"]()
    _run(doc, precision="fp16")
    scalers = doc.train_state["scalers"]
    assert set(scalers) == {"generator", "discriminator"}
    assert all(s["scale"] > 0 and s["_growth_tracker"] >= 0 for s in scalers.values())


def test_fp16_grad_scaler_state_is_saved_in_the_bundle_and_resumed(cpu_fp16, tmp_path):
    doc = PARADIGMS["classification"]()
    doc.training["epochs"] = 1
    _run(doc, precision="fp16")
    saved = doc.train_state["scalers"]["main"]
    path = tmp_path / "run.ncz"
    save_bundle(doc, None, path)
    resumed = load_document(path)
    assert resumed.train_state["scalers"]["main"]["scale"] == saved["scale"]
    trainer = make_trainer(resumed, precision="fp16", resume=True, epochs=1)  # nothing left to do
    list(trainer.run())
    scaler = trainer.acceleration.scalers[id(trainer.optimizers["main"])]
    assert scaler.get_scale() == saved["scale"]
    assert scaler.state_dict()["_growth_tracker"] == saved["_growth_tracker"]


def test_a_broken_saved_scaler_state_is_a_clear_error(cpu_fp16):
    doc = PARADIGMS["classification"]()
    doc.training["epochs"] = 1
    _run(doc, precision="fp16")
    doc.train_state["scalers"]["main"] = {"scale": "big"}
    events = list(make_trainer(doc, precision="fp16", resume=True, epochs=2).run())
    assert isinstance(events[-1], Failed) and "scalers.main" in events[-1].message


def test_fp16_clips_the_unscaled_gradients(cpu_fp16, monkeypatch):
    """DQN clips: the clip must see true gradients (unscale_ before clip_grad_norm_)."""
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    acceleration = Acceleration("fp16", False, torch.device("cpu"))
    seen: list[float] = []
    real_clip = nn.utils.clip_grad_norm_

    def clip(params, max_norm):
        norm = real_clip(params, max_norm)
        seen.append(float(norm))
        return norm

    monkeypatch.setattr(nn.utils, "clip_grad_norm_", clip)
    acceleration.update(model(torch.ones(4, 3)).sum(), optimizer, clip=1e9)
    expected = torch.cat([torch.full((3,), 4.0), torch.tensor([4.0])]).norm()  # d(sum)/dW, db
    assert seen == pytest.approx([float(expected)], rel=1e-3)


# ---- the settings, the CLI ----------------------------------------------------------------


def test_the_cli_choices_are_the_schemas():
    assert CLI_PRECISIONS == lookup("", "precision").choices
    assert lookup("", "precision").default == "fp32" and lookup("", "compile").default is False
    args = build_parser().parse_args(["train", "x.json", "--precision", "bf16", "--compile"])
    assert args.precision == "bf16" and args.compile is True
    args = build_parser().parse_args(["train", "x.json"])
    assert args.precision is None and args.compile is None  # the document decides


def test_netcanvas_train_passes_precision_through(tmp_path, capsys):
    code = main(["train", "feedforward_iris", "--epochs", "1", "--device", "cpu",
                 "--precision", "fp16", "--out", str(tmp_path), "--quiet"])
    assert code == 1 and "fp16 needs a CUDA GPU" in capsys.readouterr().err
    code = main(["train", "perceptron_blobs", "--epochs", "1", "--precision", "bf16",
                 "--out", str(tmp_path)])
    assert code == 0 and "note: precision bf16 does not apply" in capsys.readouterr().err
