"""The GUI's Open on hostile files: the engine's one-line DocumentError in the error dialog.

The window keeps its document, shows exactly the message `load_bundle` or
`load_document` gives, and an accepted bundle's curves and results draw
(a NaN saved as null included) without an exception.
"""

from __future__ import annotations

import json
import os
import zipfile

import pytest

import engine
from engine.errors import DocumentError
from tests.hostile_corpus import (
    build_zip,
    nested_json,
    patch_member,
    replaced,
    valid_bundle,
    valid_members,
)
from tests.test_hostile_bundles import CASES


@pytest.mark.parametrize("case", ["encrypted document", "zstandard (93)", "nested 5000 deep",
                                  "metrics bomb", "epoch_train of numbers", "epoch zz",
                                  "zip-slip ..", "duplicate member", "header declares 1 GiB"])
def test_open_shows_the_engines_refusal_and_keeps_the_document(window, lenet, tmp_path, case):
    assert window.open_path(str(lenet))
    path = tmp_path / "hostile.ncz"
    path.write_bytes(CASES[case][0](valid_members(tmp_path)))
    with pytest.raises(DocumentError) as info:
        engine.load_document(path)
    before = window.session.document
    assert not window.open_path(str(path))
    assert window.dialogs.errors == [("Cannot open the document", str(info.value))]
    assert window.session.document is before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_open_refuses_a_fifo_at_once(window, tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    assert not window.open_path(str(path))  # reading it would wait for a writer forever
    (title, text), = window.dialogs.errors
    assert text == f"{path}: cannot open a named pipe (FIFO): only regular files are read"


def test_an_accepted_bundle_draws_its_curves_and_results(window, tmp_path):
    path = valid_bundle(tmp_path / "ok.ncz")
    assert window.open_path(str(path)), window.dialogs.errors
    assert window.dialogs.errors == []
    assert window.session.document.metrics["class_names"] == ["setosa", "versicolor", "virginica"]


def test_the_corpus_helpers_build_what_they_claim(tmp_path):
    members = valid_members(tmp_path)
    data = patch_member(build_zip(replaced(members, train_state_json=nested_json(3))),
                        "document.json", flags=1)
    path = tmp_path / "x.ncz"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("document.json").flag_bits & 1
        assert json.loads(zf.read("train_state.json"))["deep"] == [[[]]]
