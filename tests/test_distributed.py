"""torchrun + DDP: 2 CPU processes with gloo follow the 1-process run's loss curve, and write one bundle."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import load_document
from engine.cli import main
from engine.errors import NetCanvasError
from engine.readwrite import save_document
from engine.training import RunOptions, make_trainer
from engine.training.distributed import check_task
from engine.training.launch import torchrun_argv
from tests.helpers import iris_mlp

ROOT = Path(__file__).resolve().parents[1]


def _train_two_processes(doc, tmp_path: Path) -> tuple[dict, list[Path]]:
    """`netcanvas train FILE --nproc-per-node 2` in a child; its JSON line and the bundles written."""
    path = tmp_path / "model.json"
    save_document(doc, path)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "train", str(path), "--nproc-per-node", "2",
         "--out", str(out), "--json", "--quiet"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])  # rank 0 alone prints it
    return line, sorted(out.glob("*"))


def _one_process_history(doc) -> dict:
    events = list(make_trainer(doc, RunOptions()).run())
    assert type(events[-1]).__name__ == "Finished", events[-1]
    return doc.metrics["history"]


def _losses(history: dict, key: str) -> np.ndarray:
    return np.array([entry["loss"] for entry in history[key]], dtype=np.float64)


def test_two_gloo_processes_match_one_process_loss_curve(tmp_path):
    # 105 training samples in batches of 16: the last batch (9) splits 5/4, so the
    # weighting of unequal shares is exercised too.
    line, written = _train_two_processes(iris_mlp(epochs=4, batch_size=16), tmp_path)
    assert line["ok"] and [p.name for p in written] == ["model.ncz"]
    trained = load_document(written[0])
    assert trained.train_state["epoch"] == 4 and set(trained.weights) == {"main"}
    single = _one_process_history(iris_mlp(epochs=4, batch_size=16))
    for key in ("epoch_train", "epoch_val"):
        np.testing.assert_allclose(_losses(trained.metrics["history"], key), _losses(single, key),
                                   rtol=1e-4, atol=1e-6)
    assert line["metrics"]["test_accuracy"] == pytest.approx(
        trained.metrics["test_accuracy"])


def _karate(epochs: int = 5):
    doc = load_document(ROOT / "presets" / "gcn_karate.json")
    doc.training.update(epochs=epochs, device="cpu")
    return doc


def test_node_classification_distributes_over_labelled_nodes(tmp_path):
    line, written = _train_two_processes(_karate(), tmp_path)
    assert line["ok"] and len(written) == 1
    single = _one_process_history(_karate())
    np.testing.assert_allclose(_losses(load_document(written[0]).metrics["history"], "epoch_train"),
                               _losses(single, "epoch_train"), rtol=1e-4, atol=1e-6)


def test_gan_and_rl_are_refused_with_the_reason(tmp_path, capsys):
    with pytest.raises(NetCanvasError, match="cannot run on several processes: a GAN"):
        check_task("gan")
    with pytest.raises(NetCanvasError, match="RL agent"):
        check_task("dqn")
    check_task("node_classification")  # distributes: no error
    path = tmp_path / "gan.json"
    doc = iris_mlp()
    doc.training["task"] = "gan"
    save_document(doc, path)
    assert main(["train", str(path), "--nproc-per-node", "2"]) == 1
    assert "cannot run on several processes" in capsys.readouterr().err


def _args(**given) -> argparse.Namespace:
    base = dict(file="m.json", nproc_per_node=2, nnodes=None, node_rank=None, rdzv_endpoint=None,
                epochs=3, device=None, seed=None, out="o", checkpoint_every=None,
                quiet=True, json=False)
    return argparse.Namespace(**{**base, **given})


def test_torchrun_command_lines():
    one = torchrun_argv(_args())
    assert one[1:5] == ["-m", "torch.distributed.run", "--nproc-per-node=2", "--standalone"]
    assert one[5:] == ["-m", "engine.training.distributed", "m.json", "--epochs", "3",
                       "--out", "o", "--quiet"]
    c10d = torchrun_argv(_args(nnodes=2, rdzv_endpoint="head:29500"))
    assert "--rdzv-backend=c10d" in c10d and "--rdzv-endpoint=head:29500" in c10d
    static = torchrun_argv(_args(nnodes=2, node_rank=1, rdzv_endpoint="head:29500"))
    assert {"--node-rank=1", "--master-addr=head", "--master-port=29500"} <= set(static)
    with pytest.raises(NetCanvasError, match="needs --rdzv-endpoint"):
        torchrun_argv(_args(nnodes=2))


def test_every_rank_gets_the_overrides_rank_zero_gets():
    """--precision, --compile and --threads reached rank 0 only: the others trained at the
    document's settings, so a bf16 run mixed precisions across its ranks."""
    from engine.cli import build_parser
    from engine.training.cli import train_options

    argv = torchrun_argv(_args(precision="bf16", compile=False, threads=2))
    assert argv[argv.index("--precision") + 1] == "bf16" and "--no-compile" in argv
    assert argv[argv.index("--threads") + 1] == "2"
    rank_args = build_parser().parse_args(["train", *argv[argv.index("m.json"):]])
    options = train_options(rank_args, iris_mlp())
    assert (options.precision, options.compile, options.threads, options.epochs) == ("bf16", False, 2, 3)
    assert "--compile" in torchrun_argv(_args(compile=True))
    assert not {"--compile", "--no-compile", "--precision"} & set(torchrun_argv(_args()))


def test_the_rank_entry_point_says_who_starts_it(monkeypatch, capsys):
    from engine.training.distributed import main as rank_main

    monkeypatch.delenv("RANK", raising=False)
    assert rank_main(["m.json"]) == 1
    assert "started by torchrun" in capsys.readouterr().err
