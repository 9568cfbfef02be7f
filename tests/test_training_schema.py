"""The training section checked against its declaration: load errors, check findings, docs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.cli import main
from engine.errors import DocumentError
from engine.readwrite import document_to_json, parse_document
from engine.training import schema
from engine.training.schema import docs, problems
from tests.helpers import iris_mlp

ROOT = Path(__file__).resolve().parents[1]
IRIS = {"task": "classification", "dataset": "iris", "loss": "cross_entropy", "epochs": 3}


def _text(**training) -> str:
    """An iris MLP document as JSON, its training section IRIS updated with `training`."""
    record = json.loads(document_to_json(iris_mlp()))
    record["training"] = {**IRIS, **training}
    return json.dumps(record)


def _load(**training):
    return parse_document(_text(**training), "doc.json")


# ---- loading: a wrong JSON type is a load error with its path -------------------------


@pytest.mark.parametrize("training,path,message", [
    ({"optimizer": {"name": "adam", "lr": "fast"}}, "training.optimizer.lr",
     'expected a number > 0, got "fast"'),
    ({"epochs": "ten"}, "training.epochs", 'expected an integer ≥ 1, got "ten"'),
    ({"epochs": 2.5}, "training.epochs", "expected an integer ≥ 1, got 2.5"),
    ({"task": 3}, "training.task", "expected one of classification, regression"),
    ({"dqn": {"gamma": "high"}}, "training.dqn.gamma",
     'expected a number from 0 to 1, got "high"'),
    ({"dqn": [1]}, "training.dqn", "expected an object of dqn settings, got [1]"),
    ({"optimizer": 3}, "training.optimizer",
     "expected a name or an object of optimizer settings, got 3"),
    ({"dataset": {"image_size": 28}}, "training.dataset",
     'expected a dataset name or {"name": ...}'),
    ({"optimizer": {"betas": "0.9"}}, "training.optimizer.betas", "expected a list of 2 numbers"),
    ({"gan": {"optimizers": {"generator": {"lr": []}}}}, "training.gan.optimizers.generator.lr",
     "expected a number > 0, got []"),
    ({"device": None}, "training.device", "got null"),
])
def test_a_wrong_json_type_is_a_load_error_naming_the_path(training, path, message):
    with pytest.raises(DocumentError) as caught:
        _load(**training)
    assert caught.value.path == path and message in caught.value.reason
    assert str(caught.value).startswith(f"doc.json: at {path}: ")


def test_the_issue_example_reads_as_promised():
    with pytest.raises(DocumentError, match=r'training\.optimizer\.lr: expected a number > 0, '
                                            r'got "fast"'):
        _load(optimizer={"name": "adam", "lr": "fast"})


def test_values_of_the_right_type_load_in_every_shorthand():
    doc = _load(optimizer="sgd", lr_schedule="cosine", dqn=None, epochs=4.0)
    assert doc.training["optimizer"] == "sgd" and doc.training["epochs"] == 4.0
    assert problems(doc.training) == ([], [])


# ---- checking: out of range and unknown names are check errors ------------------------


def test_an_out_of_range_value_loads_and_is_a_check_error():
    doc = _load(epochs=0, optimizer={"name": "adam", "lr": -0.1})
    report = engine.check(doc)
    assert not report.ok
    assert "training.epochs: expected an integer ≥ 1, got 0" in report.errors
    assert "training.optimizer.lr: expected a number > 0, got -0.1" in report.errors


@pytest.mark.parametrize("training,line", [
    ({"task": "clasification"}, 'training.task: expected one of classification, regression'),
    ({"loss": "hinge"}, 'training.loss: expected one of cross_entropy, nll, mse, bce, '
                        'bce_logits, l1, got "hinge"'),
    ({"task": "gan", "loss": "mse"}, 'training.loss: expected one of bce, bce_logits, got "mse"'),
    ({"optimizer": "adagrad"}, 'training.optimizer: expected one of sgd, adam, adamw, rmsprop'),
    ({"lr_schedule": {"name": "step", "step_size": 0}}, "training.lr_schedule.step_size: "
                                                          "expected an integer ≥ 1, got 0"),
    ({"device": "gpu"}, 'training.device: expected auto, cpu, cuda, cuda:N or mps, got "gpu"'),
    ({"dataset": "irises"}, "training.dataset: unknown dataset 'irises'"),
    ({"dataset": {"name": "irises"}}, "training.dataset.name: unknown dataset 'irises'"),
    ({"task": "dqn", "dataset": "CartPole-v1", "dqn": {"epsilon_end": 2}},
     "training.dqn.epsilon_end: expected a number from 0 to 1, got 2"),
    ({"task": "gan", "gan": {"optimizers": {"generator": {"lr": 0}}}},
     "training.gan.optimizers.generator.lr: expected a number > 0, got 0"),
])
def test_unknown_names_and_ranges_are_check_errors(training, line):
    errors, _ = problems({**IRIS, **training})
    assert any(e.startswith(line) for e in errors), errors


def test_names_are_read_case_insensitively_where_the_trainer_does():
    assert problems({**IRIS, "optimizer": {"name": "Adam"}, "lr_schedule": "Cosine"}) == ([], [])


def test_settings_of_another_optimizer_are_not_range_checked():
    """betas belong to Adam: an SGD document's leftover betas do not stop a run."""
    assert problems({**IRIS, "optimizer": {"name": "sgd", "betas": [2, 2]}})[0] == []


def test_unknown_keys_are_kept_and_warned_about_with_a_suggestion(tmp_path, capsys):
    doc = _load(epoch=5, optimizer={"name": "adam", "learning_rate": 1, "lr": 0.1},
                dataset={"name": "iris", "feature": 4}, note="mine")
    report = engine.check(doc)
    assert report.ok
    assert report.warnings == [
        "training.dataset.feature: the iris dataset has no option 'feature', kept but "
        "not read (did you mean features?)",
        "training.epoch: unknown setting, kept but not read (did you mean epochs?)",
        "training.optimizer.learning_rate: unknown setting, kept but not read",
        "training.note: unknown setting, kept but not read",
    ]
    again = json.loads(document_to_json(doc))["training"]
    assert again["epoch"] == 5 and again["note"] == "mine"
    assert again["optimizer"]["learning_rate"] == 1
    path = tmp_path / "doc.json"
    path.write_text(document_to_json(doc), encoding="utf-8")
    assert main(["check", str(path)]) == 0
    assert "warning: training.epoch: unknown setting, kept but not read (did you mean epochs?)" \
        in capsys.readouterr().out


def test_netcanvas_check_fails_on_a_training_error(tmp_path, capsys):
    path = tmp_path / "doc.json"
    path.write_text(_text(batch_size=0), encoding="utf-8")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error: training.batch_size: expected an integer ≥ 1, got 0" in out


def test_environment_options_go_to_gymnasium_unwarned():
    training = {"task": "q_learning", "dataset": {"name": "FrozenLake-v1", "is_slippery": False,
                                                  "desc": ["SF", "HG"]}}
    assert problems(training) == ([], [])


def test_a_missing_gpu_is_a_warning_not_an_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    errors, warnings = problems({**IRIS, "device": "cuda:1"})
    assert errors == []
    assert warnings == ["training.device: cuda:1 is not available on this machine: training "
                        "here needs another device (auto picks one)"]
    assert problems({**IRIS, "device": "cpu"}) == ([], [])


@pytest.mark.parametrize("preset", sorted((ROOT / "presets").glob("*.json")), ids=lambda p: p.stem)
def test_every_preset_is_clean_against_the_schema(preset):
    training = json.loads(preset.read_text(encoding="utf-8"))["training"]
    assert problems(training) == ([], [])


def test_the_schema_imports_without_any_trainer():
    code = ("import sys, engine.training.schema as s; s.problems({'epochs': 0}); "
            "print(sorted(m for m in sys.modules if m.startswith('engine.training')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout
    loaded = set(eval(out))  # noqa: S307  our own print of a list of names
    assert loaded <= {"engine.training", "engine.training.schema", "engine.training.schema.spec",
                      "engine.training.schema.declared", "engine.training.schema.validate"}


# ---- the generated documentation ------------------------------------------------------


def test_docs_page_is_what_the_generator_writes():
    """Regenerate with `python -m engine.training.schema.docs` after changing a setting."""
    assert docs.DOC_PATH.read_text(encoding="utf-8") == docs.markdown()


def test_docs_page_lists_every_setting_with_its_default():
    page = docs.markdown()
    for section in schema.SECTIONS.values():
        assert f"## `{section.name}`" in page
        for setting in section.settings:
            assert f"| `{setting.key}` |" in page
    assert "| `lr` | a number > 0 | `0.001` (1.0 for perceptron) |" in page
    assert "| `digits` | arrays | `image_size` |" in page
