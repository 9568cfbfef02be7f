"""`netcanvas import module.py:Class --args JSON` and `module.py:factory_function`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

import engine
from engine.cli import main
from engine.compiler import compile_network, count_parameters
from engine.errors import NetCanvasError
from engine.importer import build_model, import_target, load_target

SOURCE = textwrap.dedent("""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, hidden, classes=3):
            super().__init__()
            self.fc1 = nn.Linear(4, hidden)
            self.fc2 = nn.Linear(hidden, classes)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    def make_net(hidden=8):
        torch.manual_seed(5)
        return Net(hidden, classes=2)

    def not_a_module():
        return 42
""")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(SOURCE)
    return path


def test_constructor_arguments_come_from_json(source: Path) -> None:
    doc = import_target(f"{source}:Net", args_json='{"hidden": 64, "classes": 5}')
    linear = [n.resolved_params() for n in doc.network("main").nodes.values() if n.block == "Linear"]
    assert [p["out_features"] for p in linear] == [64, 5]
    assert count_parameters(compile_network(doc)) == 4 * 64 + 64 + 64 * 5 + 5
    positional = import_target(f"{source}:Net", args_json="[16]")
    assert count_parameters(compile_network(positional)) == 4 * 16 + 16 + 16 * 3 + 3


def test_a_factory_function_returning_a_module_imports_with_its_weights(source: Path) -> None:
    factory = load_target(f"{source}:make_net")
    model = build_model(factory, '{"hidden": 12}')
    doc = import_target(f"{source}:make_net", args_json='{"hidden": 12}')
    x = torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(compile_network(doc).eval()(x), model(x))


@pytest.mark.parametrize(("args", "message"), [
    ("{hidden: 64}", "--args is not valid JSON"),
    ('"64"', "--args must be a JSON object"),
    ('{"width": 3}', "has no argument 'width' \\(it takes: hidden, classes\\)"),
    (None, "cannot be called without arguments.*missing a required argument: 'hidden'"),
    ('{"hidden": 4, "classes": 2, "depth": 1}', "has no argument 'depth'"),
    ("[1, 2, 3]", "cannot be called with --args: too many positional arguments"),
])
def test_bad_arguments_get_a_clear_message(source: Path, args: str | None, message: str) -> None:
    with pytest.raises(NetCanvasError, match=message):
        import_target(f"{source}:Net", args_json=args)


def test_a_function_that_returns_no_module_or_a_missing_name_is_refused(source: Path) -> None:
    with pytest.raises(NetCanvasError, match="returned int, not an nn.Module"):
        import_target(f"{source}:not_a_module")
    with pytest.raises(NetCanvasError, match="no nn.Module class 'Missing' \\(it has: Net, make_net, not_a_module\\)"):
        import_target(f"{source}:Missing")


def test_cli_passes_args_and_reports_bad_json(source: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "net.ncz"
    assert main(["import", f"{source}:Net", "--args", '{"hidden": 6}', "--out", str(out)]) == 0
    assert "imported Net: " in capsys.readouterr().out
    assert count_parameters(compile_network(engine.load_document(out))) == 4 * 6 + 6 + 6 * 3 + 3
    assert main(["import", f"{source}:Net", "--args", "{oops"]) == 1
    assert "--args is not valid JSON" in capsys.readouterr().err
