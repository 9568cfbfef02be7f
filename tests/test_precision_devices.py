"""Every tensor a trainer makes is made on the training device, or stays on the host on purpose.

No GPU runs these tests, so a CUDA run cannot check that replay batches, noise, graph
inputs and targets reach the device. This reads the trainers instead: each tensor
factory call either names the device (`device=`, `.to(...)`) in its statement or is
listed below with the reason it belongs on the host. A new `torch.zeros(n)` without a
device fails here, before it fails on someone's GPU.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from engine.training import Finished, feeding, make_trainer
from tests.test_training_loop import PARADIGMS

TRAINING = Path(__file__).resolve().parent.parent / "engine" / "training"
FACTORY = re.compile(r"torch\.(zeros|ones|empty|full|arange|eye|randn|rand|randint|randperm|"
                     r"tensor|from_numpy|as_tensor|linspace)\(")

# (file, text on the line) -> why the tensor stays on the host
HOST_BY_DESIGN = {
    ("dqn.py", "torch.from_numpy(a[:n].copy())"): "the replay buffer's saved state (resume)",
    ("feeding.py", "torch.from_numpy(np.ascontiguousarray(array))"):
        "to_tensor moves it to the device when it fits (ON_DEVICE_LIMIT)",
    ("feeding.py", "torch.randperm(len(indices), generator=generator)"):
        "batch indices, shuffled by the seeded CPU generator (a CPU run repeats exactly)",
    ("gan.py", "torch.randn((COVERAGE_SAMPLES"):
        "drawn by a seeded CPU generator (the same on every device), moved on the next line",
    ("gan.py", "torch.arange(len(data.x))"): "sample indices",
    ("gan.py", "torch.from_numpy(data.splits[\"train\"])"): "sample indices",
    ("gan.py", "torch.randperm(len(self.real), generator=fixed)"): "sample indices",
    ("perceptron.py", "torch.from_numpy(v).long()"): "split indices",
    ("supervised.py", "torch.from_numpy(v).long()"): "split indices",
    ("q_learning.py", "torch.tensor(float(errors.mean()))"): "a number for check_loss only",
    ("q_learning.py", "torch.from_numpy(self.table)"): "copied into the device's weight",
    ("distributed.py", "torch.tensor_split(torch.arange(count), world_size())"):
        "only the part sizes are read (a rank's share of the index)",
    ("distributed.py", "torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)"):
        "moved to the collective's device on the next line",
    ("supervised.py", "torch.empty(0) if self.streamed"): "a placeholder: a streamed run has no test tensor",
}


def _statement(lines: list[str], i: int) -> str:
    """Line i and its continuation lines (up to the bracket balance), as one string."""
    text, depth = "", 0
    for line in lines[i:i + 6]:
        text += line
        depth += line.count("(") - line.count(")")
        if depth <= 0:
            break
    return text


def test_every_tensor_factory_in_the_trainers_names_its_device_or_is_host_by_design():
    unexplained, used = [], set()
    for path in sorted(TRAINING.glob("*.py")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not FACTORY.search(line) or line.lstrip().startswith("#"):
                continue
            statement = _statement(lines, i)
            if "device" in statement or ".to(" in statement:
                continue
            known = [key for key in HOST_BY_DESIGN if key[0] == path.name and key[1] in line]
            used.update(known)
            if not known:
                unexplained.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert unexplained == [], "tensors made without a device:\n" + "\n".join(unexplained)
    assert used == set(HOST_BY_DESIGN), f"stale entries: {set(HOST_BY_DESIGN) - used}"


@pytest.mark.parametrize("task", ["classification", "gan", "perceptron", "node_classification"])
def test_data_kept_on_the_host_still_trains(task, monkeypatch):
    """Data over the on-device limit stays on the host; batches (or the graph) move on use."""
    monkeypatch.setattr(feeding, "ON_DEVICE_LIMIT", 0)
    reference, doc = PARADIGMS[task](), PARADIGMS[task]()
    list(make_trainer(reference).run())
    events = list(make_trainer(doc).run())
    assert isinstance(events[-1], Finished), events[-1]
    for name, weights in doc.weights.items():
        assert all(torch.equal(w, reference.weights[name][k]) for k, w in weights.items())
