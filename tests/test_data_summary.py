"""A dataset's summary for the Training tab: facts, split sizes, and no download for it."""

from __future__ import annotations

from engine.data import downloads
from engine.data.summary import dataset_summary


def test_a_regression_dataset_reports_its_target_and_splits():
    lines = dataset_summary({"dataset": "sine"}).lines()
    assert lines[0] == "input x N×20×1" and lines[1] == "target N×1"
    assert lines[2] == "samples 700 train / 150 val / 150 test"


def test_a_dataset_not_yet_downloaded_is_not_fetched_for_a_summary(tmp_path, monkeypatch):
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path))

    def refuse(*args, **kwargs):
        raise AssertionError("a summary must not download")

    monkeypatch.setattr(downloads, "_download", refuse)
    found = dataset_summary({"dataset": "fashion_mnist", "seed": 3})
    assert found.num_classes == 10 and not found.splits
    assert found.lines()[-1] == "samples: counted once downloaded"
