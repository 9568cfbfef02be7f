"""Defaults live in one place: the schema. Every inline default a trainer still writes must
equal the declared one (until the inline defaults are removed), read from the source with ast.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch

from engine.errors import NetCanvasError
from engine.training import schema
from engine.training.settings import setting, value
from engine.training.setup import (
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    make_loss,
    make_optimizer,
    make_scheduler,
)

TRAINING = Path(__file__).resolve().parents[1] / "engine" / "training"
KINDS = {"int": "int", "float": "float", "bool": "bool", "str": "str", "choice": "str"}
FILE_TASK = {"perceptron.py": "perceptron"}  # whose top-level defaults are the task's own


class Read(NamedTuple):
    """One `setting(training, section, key, default, kind, **limits)` in the source."""

    where: str
    section: str
    key: str
    default: ast.expr | None
    kind: str | None
    limits: dict[str, ast.expr]


def _literal(node: ast.expr | None) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node) if node is not None else None
    except ValueError:
        return False, None


def _is_call_to(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _helper(function: ast.FunctionDef) -> tuple[str, str | None] | None:
    """`def get(key, default, kind=float, **limits): return setting(t, "dqn", key, ...)` (a
    nested function or a method): (section, the helper's default kind), else None."""
    for call in ast.walk(function):
        if (_is_call_to(call, "setting") and len(call.args) > 2
                and isinstance(call.args[1], ast.Constant) and isinstance(call.args[2], ast.Name)):
            names = [a.arg for a in function.args.args]
            kinds = dict(zip(names[len(names) - len(function.args.defaults):],
                             function.args.defaults, strict=True))
            kind = kinds.get("kind")
            return call.args[1].value, kind.id if isinstance(kind, ast.Name) else None
    return None


def _read(call: ast.Call, where: str, section: str, offset: int, kind: str | None) -> Read | None:
    """A call whose key is a literal; args from `offset` are key, default, kind."""
    args = call.args[offset:]
    if not args or not isinstance(args[0], ast.Constant):
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    kind_node = args[2] if len(args) > 2 else keywords.get("kind")
    if isinstance(kind_node, ast.Name):
        kind = kind_node.id
    limits = {k: v for k, v in keywords.items() if k in ("minimum", "maximum", "choices")}
    default = args[1] if len(args) > 1 else keywords.get("default")
    return Read(where, section, args[0].value, default, kind, limits)


def _file_reads(path: Path) -> list[Read]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    methods = {fn.name: helper for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
               for fn in cls.body if isinstance(fn, ast.FunctionDef) and (helper := _helper(fn))}
    reads = []
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        local = {inner.name: helper for inner in ast.walk(function)
                 if isinstance(inner, ast.FunctionDef) and inner is not function
                 and (helper := _helper(inner))}
        for call in [n for n in ast.walk(function) if isinstance(n, ast.Call)]:
            func, where, read = call.func, f"{path.name}:{call.lineno}", None
            if _is_call_to(call, "setting") and len(call.args) > 2 \
                    and isinstance(call.args[1], ast.Constant):
                read = _read(call, where, call.args[1].value, 2, None)
            elif isinstance(func, ast.Name) and func.id in local:
                read = _read(call, where, *_section_kind(local[func.id]))
            elif (isinstance(func, ast.Attribute) and func.attr in methods
                  and isinstance(func.value, ast.Name) and func.value.id == "self"):
                read = _read(call, where, *_section_kind(methods[func.attr]))
            if read and read not in reads:
                reads.append(read)
    return reads


def _section_kind(helper: tuple[str, str | None]) -> tuple[str, int, str | None]:
    return helper[0], 0, helper[1]


def setting_reads() -> list[Read]:
    """Every literal-keyed `setting(...)` (direct, or through a local helper or a method that
    passes its key on) in the trainers."""
    return [read for path in sorted(TRAINING.glob("*.py")) for read in _file_reads(path)]


def top_level_reads() -> list[tuple[str, str, ast.expr]]:
    """`<...>training.get("epochs", 10)`: (file:line, key, default) for declared keys."""
    found = []
    for path in sorted(TRAINING.glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "get" and len(call.args) == 2
                    and isinstance(call.args[0], ast.Constant)
                    and call.args[0].value in schema.TOP_SETTINGS
                    and "training" in ast.unparse(call.func.value)):
                found.append((f"{path.name}:{call.lineno}", call.args[0].value, call.args[1]))
    return found


def test_the_source_scan_finds_the_trainers_settings():
    """The scan itself works: it sees the helpers of dqn, gan and q_learning and direct calls."""
    keys = {(r.section, r.key) for r in setting_reads()}
    assert {("dqn", "gamma"), ("gan", "d_steps"), ("q_learning", "alpha"),
            ("perceptron", "init"), ("gan", "scale")} <= keys
    literal = [(where, key) for where, key, default in top_level_reads() if isinstance(default, ast.Constant)]
    assert literal == [], "read these through settings.value(training, key): the schema has the default"


@pytest.mark.parametrize("read", setting_reads(), ids=lambda r: f"{r.section}.{r.key}")
def test_every_inline_setting_default_equals_the_schema(read: Read):
    declared = schema.lookup(read.section, read.key)
    literal, default = _literal(read.default)
    if read.default is not None and literal:
        assert default == declared.default, f"{read.where}: {read.section}.{read.key}"
    elif read.default is not None:  # worked out at run time: the schema must say so
        assert declared.default is None and declared.computed, read.where
    if read.kind is not None:
        assert read.kind == KINDS[declared.kind], read.where
    for name, attribute in (("minimum", "low"), ("maximum", "high")):
        if name in read.limits:
            assert _literal(read.limits[name])[1] == getattr(declared, attribute), read.where
    if "choices" in read.limits:
        assert tuple(_literal(read.limits["choices"])[1]) == declared.choices, read.where


@pytest.mark.parametrize("where,key,node", top_level_reads(),
                         ids=[f"{where}-{key}" for where, key, _ in top_level_reads()])
def test_every_inline_top_level_default_equals_the_schema(where: str, key: str, node: ast.expr):
    literal, default = _literal(node)
    if literal:
        task = FILE_TASK.get(where.split(":")[0])
        assert default == schema.default("", key, task), where


def test_task_names_are_the_trainer_registry():
    from engine.training import TRAINERS

    assert set(schema.TASKS) == set(TRAINERS)


def test_setup_names_are_declared():
    assert OPTIMIZERS == schema.OPTIMIZERS and SCHEDULES == schema.SCHEDULES
    supervised = schema.lookup("", "loss").choices_for("classification")
    assert set(LOSSES) == set(supervised) and set(LOSSES) < set(schema.LOSSES)


# ---- the readers take what the caller leaves out from the schema ----------------------


def test_setting_without_a_default_takes_the_declared_one():
    assert setting({}, "dqn", "gamma") == 0.99
    assert setting({"dqn": {"gamma": 1}}, "dqn", "gamma") == 1.0  # JSON int read as float
    assert setting({}, "q_learning", "epsilon_end") == 0.01
    assert setting({}, "gan", "scale") == "auto"


def test_setting_without_limits_checks_the_declared_range_and_kind():
    with pytest.raises(NetCanvasError, match=r"training\.dqn\.gamma: must be at most 1"):
        setting({"dqn": {"gamma": 1.5}}, "dqn", "gamma")
    with pytest.raises(NetCanvasError, match=r"training\.dqn\.buffer_size: expected an integer"):
        setting({"dqn": {"buffer_size": "big"}}, "dqn", "buffer_size")
    with pytest.raises(NetCanvasError, match=r"training\.gan\.scale: expected one of"):
        setting({"gan": {"scale": "huge"}}, "gan", "scale")
    with pytest.raises(KeyError, match="training.dqn.gama is not declared"):
        setting({}, "dqn", "gama")


def test_value_reads_top_level_settings_with_task_defaults():
    assert value({}, "epochs") == 10 and value({}, "seed") == 0
    assert value({"task": "perceptron"}, "batch_size") == 32
    assert value({"task": "classification"}, "batch_size") == 64
    with pytest.raises(NetCanvasError, match=r"training\.epochs: must be at least 1"):
        value({"epochs": 0}, "epochs")


def _params():
    return [torch.zeros(2, requires_grad=True)]


def test_make_optimizer_defaults_are_the_schema_defaults():
    adam = make_optimizer(None, _params())
    group = adam.param_groups[0]
    assert isinstance(adam, torch.optim.Adam)
    assert group["lr"] == schema.default("optimizer", "lr")
    assert group["betas"] == tuple(schema.default("optimizer", "betas"))
    assert group["weight_decay"] == schema.default("optimizer", "weight_decay") == 0.0
    adamw = make_optimizer("adamw", _params()).param_groups[0]
    assert adamw["weight_decay"] == schema.default("optimizer", "weight_decay", name="adamw")
    sgd = make_optimizer({"name": "SGD", "lr": 0.5}, _params()).param_groups[0]
    assert (sgd["lr"], sgd["momentum"], sgd["nesterov"]) == (0.5, 0.0, False)


def test_an_explicit_adamw_weight_decay_of_zero_is_kept():
    """It was silently replaced by 0.01 before the defaults moved to the schema."""
    group = make_optimizer({"name": "adamw", "weight_decay": 0.0}, _params()).param_groups[0]
    assert group["weight_decay"] == 0.0


def test_make_loss_and_make_scheduler_use_the_schema_defaults():
    assert isinstance(make_loss(None), torch.nn.CrossEntropyLoss)
    assert schema.default("", "loss") == "cross_entropy"
    optimizer = make_optimizer(None, _params())
    assert make_scheduler(None, optimizer, 10) is None
    step = make_scheduler("step", optimizer, 10)
    assert (step.step_size, step.gamma) == (10, 0.5)
    assert make_scheduler("exponential", optimizer, 10).gamma == 0.95
    with pytest.raises(NetCanvasError, match="unknown schedule 'warm'"):
        make_scheduler("warm", optimizer, 10)
