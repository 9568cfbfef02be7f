"""The training host: GUI runs train in a child process and come back as an in-process run would.

Every comparison pins the thread count on both sides (`RunOptions.threads` for the host,
and `torch.set_num_threads` here), so no result depends on the machine's cores.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.training import (
    Activations,
    Epoch,
    Failed,
    Finished,
    Notice,
    RunOptions,
    Started,
    Step,
    make_trainer,
)
from engine.training.child_run import ChildRun, TrainingHost, prepare_host, take_host
from engine.training.event_stream import decode, encode
from engine.training.graph_attention import EdgeAttention
from tests.helpers import iris_mlp

ROOT = Path(__file__).resolve().parent.parent


def in_process(doc, options: RunOptions) -> list:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return list(make_trainer(doc, options).run())
    finally:
        torch.set_num_threads(previous)


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(
        a[n].keys() == b[n].keys() and all(torch.equal(a[n][k], b[n][k]) for k in a[n]) for n in a)


def test_a_run_in_the_host_equals_the_same_run_in_process():
    here, there = iris_mlp(epochs=3), iris_mlp(epochs=3)
    expected = in_process(here, RunOptions(seed=3))
    events = list(ChildRun(there, RunOptions(seed=3, threads=1)).run())
    assert [type(e) for e in events] == [type(e) for e in expected]
    assert [e.loss for e in events if isinstance(e, Step)] == \
        [e.loss for e in expected if isinstance(e, Step)]
    assert same_weights(there.weights, here.weights)
    assert there.train_state["step"] == here.train_state["step"] == 3 * 7
    assert there.metrics["history"] == here.metrics["history"]


def test_resuming_through_the_host_continues_exactly():
    whole = iris_mlp(epochs=4)
    in_process(whole, RunOptions())
    part = iris_mlp(epochs=2)
    list(ChildRun(part, RunOptions(threads=1)).run())
    twin = part.copy(with_state=True)
    events = list(ChildRun(twin, RunOptions(resume=True, epochs=4, threads=1)).run())
    assert isinstance(events[0], Started) and events[0].start_epoch == 2
    assert same_weights(twin.weights, whole.weights)


def test_the_host_serves_run_after_run_and_takes_each_runs_folder_and_environment(tmp_path):
    """A relative data path is the document's folder's, whatever folder the host started in."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "own.npz", x=rng.normal(size=(40, 2)).astype(np.float32),
             y=rng.integers(0, 2, 40))
    doc = iris_mlp(epochs=1, dataset={"name": "npz", "path": "own.npz"})
    doc.path = str(tmp_path / "mine.json")
    prepare_host()
    first = take_host()
    pid = first.process.pid
    from engine.training.child_run import return_host

    return_host(first)
    assert isinstance(list(ChildRun(doc, RunOptions(threads=1)).run())[-1], Finished)
    assert doc.path == str(tmp_path / "mine.json")  # the trained copy is still the document's
    second = take_host()
    assert second.process.pid == pid  # the same process: torch was imported once
    return_host(second)
    doc.path = str(tmp_path / "elsewhere" / "mine.json")
    last = list(ChildRun(doc, RunOptions(threads=1)).run())[-1]
    assert isinstance(last, Failed) and "own.npz" in last.message


def test_controls_sent_before_the_run_reached_the_host_still_apply():
    run = ChildRun(iris_mlp(epochs=5000), RunOptions(threads=1))
    run.stop()
    events = list(run.run())
    assert isinstance(events[-1], Finished) and events[-1].stopped
    assert not any(isinstance(e, Epoch) for e in events)


def test_pause_watch_and_stop_reach_the_running_trainer():
    run = ChildRun(iris_mlp(epochs=5000), RunOptions(activation_interval=0.0, threads=1))
    seen: list = []
    for event in run.run():
        seen.append(event)
        if isinstance(event, Started):
            run.watch(["b0"])
        if isinstance(event, Activations):
            run.pause()
            run.stop()  # stop while paused ends the run
    assert any(isinstance(e, Activations) and "b0" in e.tensors for e in seen)
    assert isinstance(seen[-1], Finished) and seen[-1].stopped


def test_a_host_that_dies_mid_run_is_a_failure_that_says_so():
    run = ChildRun(iris_mlp(epochs=5000), RunOptions(threads=1))
    events = run.run()
    for event in events:
        if isinstance(event, Step):
            run.kill()
            break
    last = list(events)[-1]
    assert isinstance(last, Failed) and "killed by SIGKILL" in last.message
    assert isinstance(list(ChildRun(iris_mlp(epochs=1), RunOptions(threads=1)).run())[-1],
                      Finished)  # a fresh host serves the next run


def test_options_that_are_not_plain_data_are_refused_with_the_reason():
    options = RunOptions(extra={"callback": print}, threads=1)
    events = list(ChildRun(iris_mlp(), options).run())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "could not hand the document to the training process" in events[0].message


def test_an_unknown_task_fails_in_the_host_with_its_reason():
    events = list(ChildRun(iris_mlp(task="telepathy"), RunOptions(threads=1)).run())
    assert isinstance(events[-1], Failed) and "unknown task 'telepathy'" in events[-1].message


def test_what_a_library_prints_never_lands_among_the_events():
    code = ("from engine.training.host import claim_stdout\n"
            "events = claim_stdout()\n"
            "print('a library talking')\n"
            "events.write('{\"event\": 1}\\n')\n"
            "events.flush()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert done.stdout == '{"event": 1}\n'
    assert "a library talking" in done.stderr


def test_end_of_input_ends_the_host_and_it_is_reaped_without_anyone_waiting():
    host = TrainingHost()
    host.release()
    deadline = time.monotonic() + 120  # a bound for a slow machine, not a measurement
    while host.process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host.process.returncode == 0


def test_notices_and_graph_attention_cross_the_pipe():
    attention = EdgeAttention(3, np.array([0, 1, 2]), np.array([1, 2, 0]),
                              np.array([[0.5, 0.25, 1.0]], dtype=np.float32))
    event = decode(encode(Activations(4, {"gat1": attention, "fc": np.ones((2, 2), np.float32)})))
    got = event.tensors["gat1"]
    assert isinstance(got, EdgeAttention) and got.nodes == 3
    for field in ("sources", "targets", "weights"):
        assert np.array_equal(getattr(got, field), getattr(attention, field))
        assert getattr(got, field).dtype == getattr(attention, field).dtype
    assert np.array_equal(event.tensors["fc"], np.ones((2, 2), np.float32))
    assert decode(encode(Notice(7, "compile fell back"))) == Notice(7, "compile fell back")


@pytest.mark.parametrize("event", [Failed("boom", 3, diverged=True),
                                   Finished({"accuracy": 0.5}, True, 1.5)])
def test_a_runs_last_event_keeps_every_field(event):
    assert dataclasses.asdict(decode(encode(event))) == dataclasses.asdict(event)


def test_a_run_of_steps_crosses_the_pipe_as_one_line_and_comes_back_whole():
    from engine.training.event_stream import decode_many, encode_many

    steps = [Step(i, 1, 1.0 / i, 0.01, 500.0, i / 100) for i in range(1, 41)]
    gan = Step(41, 1, 0.5, 0.01, 500.0, 0.41, {"generator": 0.7, "discriminator": 0.3})
    nan = Step(42, 1, float("nan"), 0.01, 500.0, 0.42)
    events = [*steps, Epoch(1, {"loss": 0.5}, {}, 0.4), gan, nan, Finished({}, False, 1.0)]
    lines = encode_many(events).splitlines()
    assert len(lines) == 5  # 40 steps, the epoch, the GAN's step, the lone step, the end
    back = [event for line in lines for event in decode_many(line)]
    assert back[:40] == steps and back[40:42] == events[40:42]
    assert back[43] == events[43] and np.isnan(back[42].loss) and back[42].step == 42


def test_a_training_process_that_cannot_start_is_a_failure_naming_it(monkeypatch):
    from engine.training import child_run

    def no_process(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "/gone/python")

    monkeypatch.setattr(child_run, "_spare", None)
    monkeypatch.setattr(child_run.subprocess, "Popen", no_process)
    events = list(ChildRun(iris_mlp(), RunOptions(threads=1)).run())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "could not start the training process" in events[0].message
    assert "/gone/python" in events[0].message


def test_a_job_that_cannot_be_set_up_fails_its_run_and_the_host_serves_on(monkeypatch, tmp_path):
    import io

    from engine.readwrite import document_bytes
    from engine.training import host as host_module

    (tmp_path / "job.json").write_bytes(document_bytes(iris_mlp()))
    job = {"command": "run", "file": str(tmp_path / "job.json"), "out": str(tmp_path / "out.ncz"),
           "options": {}}
    host = host_module.Host(host_module.EventWriter(io.StringIO()))

    def broken(*args, **kwargs):
        raise RuntimeError("no trainer today")

    monkeypatch.setattr("engine.training.make_trainer", broken, raising=False)
    first = host.run_job(job)
    assert isinstance(first, Failed) and "RuntimeError: no trainer today" in first.message
    monkeypatch.undo()
    assert isinstance(host.run_job({**job, "options": {"epochs": 1}}), Finished)
