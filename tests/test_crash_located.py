"""An exception that escapes a training step is told against the block it came from."""

from __future__ import annotations

from engine.diagnose import crash_line
from engine.training import Failed, make_trainer
from tests.helpers import iris_mlp


def _last(doc):
    return list(make_trainer(doc).run())[-1]


def test_a_forward_failure_names_the_node_and_the_shapes_it_got():
    # BatchNorm1d in training mode refuses a batch of one sample: checking cannot see
    # the batch size, so this escapes to the first step (iris: 105 training samples).
    doc = iris_mlp(epochs=1, batch_size=104)
    net = doc.network("main")
    first = next(n for n in net.topological_order() if net.nodes[n].block == "Linear")
    failed = _last(_with_batchnorm(doc, first))
    assert isinstance(failed, Failed), failed
    assert "node batch_norm1d_1 (BatchNorm1d) got shapes 1×16" in failed.message, failed.message
    assert ".py" not in failed.message  # no file inside torch


def _with_batchnorm(doc, after):
    net = doc.network("main")
    wire = next(e for e in net.edges if e.src == after)
    net.disconnect(wire)
    bn = net.add_node("BatchNorm1d", {})
    net.connect(f"{after}.out", f"{bn.id}.in")
    net.connect(f"{bn.id}.out", f"{wire.dst}.{wire.dst_port}")
    return doc


def test_a_crash_outside_the_network_names_no_file_inside_torch():
    import torch

    try:
        torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5]))
    except Exception as exc:  # noqa: BLE001
        text = crash_line(exc)
    assert text.startswith("training failed: IndexError: Target 5 is out of bounds")
    assert "functional.py" not in text
