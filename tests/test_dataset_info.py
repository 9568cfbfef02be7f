"""The one-line description of a document's dataset (the Training tab shows it)."""

from __future__ import annotations

import pytest

from engine.dataset_info import describe, downloads, outline
from engine.errors import DatasetError


def test_outline_needs_no_load_and_names_what_each_source_receives():
    assert outline({"dataset": {"name": "digits", "image_size": 28}}) == "arrays · x: N×1×28×28"
    assert outline({"dataset": "karate"}) == "graph · adjacency: 34×34, features: 34×34"


@pytest.mark.parametrize("training,line", [
    ({"dataset": "iris"}, "arrays · x: N×4 · 3 classes · 105 / 22 / 23 samples (train/val/test)"),
    ({"dataset": {"name": "sine", "n_samples": 100}},
     "arrays · x: N×20×1 · target N×1 · 70 / 15 / 15 samples (train/val/test)"),
    ({"dataset": "CartPole-v1"}, "environment · observation 4 · 2 actions · solved at 475"),
])
def test_describe_counts_samples_and_classes(training, line):
    assert describe(training) == line


def test_a_dataset_that_would_download_is_not_loaded(monkeypatch):
    import engine.dataset_info as info

    monkeypatch.setattr(info, "load_dataset", lambda *a: pytest.fail("must not load"))
    assert downloads({"dataset": "mnist"}) and not downloads({"dataset": "iris"})
    assert describe({"dataset": "mnist"}) == "arrays · x: N×1×28×28 · downloaded on the first run"


def test_an_unknown_dataset_says_so():
    with pytest.raises(DatasetError, match="unknown dataset 'nowhere'"):
        outline({"dataset": "nowhere"})
