"""A failure inside a forward pass is told against the block it came from."""

from __future__ import annotations

import pytest
import torch

from engine import compile_network
from engine.diagnose import locate_failure
from tests.test_task_check import chain


def _model(blocks, node_ids=None):
    doc = chain(blocks, {"dataset": "iris"})
    net = doc.network("main")
    return doc, net, compile_network(doc)


def _fail(model, *inputs):
    with pytest.raises(Exception) as info:  # noqa: PT011  whatever torch raises
        model(*inputs)
    return info.value


def test_the_node_that_raised_is_named_with_its_block_and_shapes():
    doc, net, model = _model([("Linear", {"out_features": 8}), ("ReLU", {}), ("Linear", {"out_features": 3})])
    x = torch.randn(2, 5)  # the network was checked for 4 features
    text = locate_failure(model, _fail(model, x), (x,), net)
    assert text.startswith("node linear_1 (Linear) got shapes 2×5: ")
    assert "mat1 and mat2" in text and "functional.py" not in text


def test_batchnorm_with_a_batch_of_one_in_training_is_located():
    doc, net, model = _model([("Linear", {"out_features": 4}), ("BatchNorm1d", {}), ("Linear", {"out_features": 3})])
    model.train()
    x = torch.randn(1, 4)
    text = locate_failure(model, _fail(model, x), (x,), net)
    assert text.startswith("node batch_norm1d_1 (BatchNorm1d) got shapes 1×4: Expected more than 1 value")


def test_reserved_node_ids_map_back_and_block_falls_back_to_module_class():
    doc = chain([], {"dataset": "iris"})
    net = doc.network("main")
    net.add_node("Linear", {"out_features": 3}, node_id="forward")
    edge = net.incoming("y")["in"]
    net.disconnect(edge)
    net.connect("x.out", "forward.in")
    net.connect("forward.out", "y.in")
    model = compile_network(doc)
    x = torch.randn(2, 7)
    exc = _fail(model, x)
    assert locate_failure(model, exc, (x,), net).startswith("node forward (Linear) got shapes 2×7")
    assert locate_failure(model, exc, (x,)).startswith("node forward (Linear)")


def test_a_failure_outside_the_network_is_not_blamed_on_a_node():
    doc, net, model = _model([("Linear", {"out_features": 3})])
    x = torch.randn(2, 4)
    loss_error = ValueError("Expected input batch_size (2) to match target batch_size (5)")
    assert locate_failure(model, loss_error, (x,), net) is None
