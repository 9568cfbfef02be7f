"""Helpers shared by the GUI tests and the editor benchmark (no pytest import here).

`isolate` points settings and recovery files at a temporary folder;
`FakeDialogs` answers every question at once and records what was shown;
`large_document` builds the 500-node network the scale checks use.
"""

from __future__ import annotations

from pathlib import Path

from engine.document import Document
from gui import settings
from gui.dialogs import Dialogs


def isolate(folder: Path, monkeypatch) -> None:
    """Settings in an .ini under `folder`, recovery files and the block library there
    too, no recovery prompt."""
    monkeypatch.setenv(settings.SETTINGS_ENV, str(folder / "settings.ini"))
    monkeypatch.setenv("NETCANVAS_LIBRARY_DIR", str(folder / "library"))
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(folder / "data"))
    monkeypatch.setenv(settings.NO_RECOVERY_ENV, "1")


class FakeDialogs(Dialogs):
    """Scripted answers; `errors` holds every message the window tried to show."""

    def __init__(self) -> None:
        super().__init__(None)
        self.errors: list[tuple[str, str]] = []
        self.save_answer = "discard"
        self.recover_answer = False
        self.confirm_answer = True
        self.next_open: str | None = None
        self.next_save: str | None = None
        self.next_import: tuple[str, str] | None = None  # ("module.py:Class", "1,28,28")
        self.next_text: str | None = None  # typed into the next text box (None: its offer)
        self.cancel_text = False  # the next text box is cancelled
        self.asked: list[str] = []
        self.infos: list[tuple[str, str]] = []  # (title, text) of every info box
        self.suggested: list[tuple[str, bool]] = []  # (suggested path, bundle filter) per save box

    def error(self, title: str, text: str) -> None:
        self.errors.append((title, text))

    def ask_save_changes(self, name: str) -> str:
        self.asked.append(f"save:{name}")
        return self.save_answer

    def ask_recover(self, description: str) -> bool:
        self.asked.append(f"recover:{description}")
        return self.recover_answer

    def confirm(self, title: str, text: str) -> bool:
        self.asked.append(f"confirm:{title}")
        return self.confirm_answer

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        self.asked.append(f"text:{title}")
        if self.cancel_text:
            return None
        return self.next_text if self.next_text is not None else text

    def open_path(self, directory: str = "") -> str | None:
        return self.next_open

    def info(self, title: str, text: str) -> None:
        self.infos.append((title, text))

    def save_path(self, suggested: str = "", bundle: bool = False) -> str | None:
        self.suggested.append((suggested, bundle))
        return self.next_save

    def export_path(self, title: str, suggested: str, file_filter: str, folder: bool) -> str | None:
        return self.next_save

    def import_spec(self) -> tuple[str, str] | None:
        return self.next_import


def sample_document() -> Document:
    """A LeNet on 28×28 digits, fixed here so tests do not depend on how presets evolve."""
    doc = Document("LeNet sample")
    doc.training = {"task": "classification", "dataset": {"name": "digits", "image_size": 28},
                    "loss": "nll", "optimizer": {"name": "adam", "lr": 0.001},
                    "epochs": 10, "batch_size": 64, "seed": 0, "device": "auto"}
    net = doc.add_network("main")
    chain = [("x", "Input", {"source": "x"}), ("conv1", "Conv2d", {"out_channels": 20, "kernel_size": 5}),
             ("relu1", "ReLU", {}), ("pool1", "MaxPool2d", {"kernel_size": 2}),
             ("conv2", "Conv2d", {"out_channels": 50, "kernel_size": 5}), ("relu2", "ReLU", {}),
             ("pool2", "MaxPool2d", {"kernel_size": 2}), ("flatten", "Flatten", {}),
             ("fc1", "Linear", {"out_features": 500}), ("relu3", "ReLU", {}),
             ("fc2", "Linear", {"out_features": 10}), ("log_softmax", "LogSoftmax", {"dim": 1}),
             ("out", "Output", {})]
    for i, (node_id, block, params) in enumerate(chain):
        net.add_node(block, params, (i * 180.0, 0.0), node_id)
        if i:
            net.connect(f"{chain[i - 1][0]}.out", f"{node_id}.in")
    return doc


CHAIN_BLOCKS = (("Linear", {"out_features": 64}), ("ReLU", {}), ("LayerNorm", {}),
                ("Linear", {"out_features": 64}), ("GELU", {}))


def large_document(chains: int = 20, length: int = 24) -> Document:
    """An Input feeding `chains` residual MLP chains of `length` blocks, each to an Output.

    With the defaults that is 1 + 20 × 25 = 501 nodes and about 560 edges, laid
    out on the usual 180-unit columns: the 500-node case of the scale checks.
    """
    doc = Document("Large benchmark graph")
    # No dataset: its 64 features per sample are the graph's own (sine's 1-value target
    # would make every Output a task-check error).
    doc.training = {"task": "regression"}
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [64]}, (0, chains * 70), "x")
    for c in range(chains):
        y = c * 150.0
        previous, skip = "x", "x"
        for j in range(length):
            node_id = f"c{c}_{j}"
            if j % 6 == 5:
                net.add_node("Add", {}, ((j + 1) * 180.0, y), node_id)
                net.connect(f"{previous}.out", f"{node_id}.a")
                net.connect(f"{skip}.out", f"{node_id}.b")
                skip = node_id
            else:
                block, params = CHAIN_BLOCKS[j % len(CHAIN_BLOCKS)]
                net.add_node(block, params, ((j + 1) * 180.0, y), node_id)
                net.connect(f"{previous}.out", f"{node_id}.in")
            previous = node_id
        net.add_node("Output", {}, ((length + 1) * 180.0, y), f"out{c}")
        net.connect(f"{previous}.out", f"out{c}.in")
    return doc
