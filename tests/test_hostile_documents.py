"""Hostile documents: random JSON mutations of every preset, and files that are not files.

Whatever a mutated preset holds, loading it either gives a Document that
checks and saves without an exception, or one DocumentError naming the file;
a lone surrogate or too deep a nesting is refused at exactly the path where
it was put. A FIFO, a device, a folder or a link to one is refused at once
(before any read could hang or never end), and a file over the size limit
is refused with the numbers, for documents, bundles and the GUI's Open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import safeload
from engine.errors import DocumentError
from engine.readwrite import document_bytes, parse_document
from tests.helpers import json_paths

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "presets").glob("*.json"))}

json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
surrogates = st.builds(lambda head, code, tail: f"{head}{chr(code)}{tail}",
                       st.text(max_size=3), st.integers(0xD800, 0xDFFF), st.text(max_size=3))
fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _json_path(where: tuple) -> str:
    text = ""
    for key in where:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else key
    return text


def _put(record: Any, where: tuple, value: Any) -> Any:
    if not where:
        return value
    target = record
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return record


@st.composite
def _mutation(draw, value_strategy) -> tuple[str, tuple, Any]:
    name = draw(st.sampled_from(sorted(PRESETS)))
    record = json.loads(json.dumps(PRESETS[name]))
    where = draw(st.sampled_from(json_paths(record)))
    return name, where, _put(record, where, draw(value_strategy))


def _load(record: Any) -> engine.Document | DocumentError:
    try:
        return parse_document(json.dumps(record), "mutant.json")
    except DocumentError as exc:
        assert str(exc).startswith("mutant.json: ")
        str(exc).encode("utf-8")
        return exc


@fuzz
@given(_mutation(json_values))
def test_any_value_anywhere_loads_and_checks_or_is_refused(mutation):
    _, _, record = mutation
    result = _load(record)
    if isinstance(result, engine.Document):
        engine.check(result)  # whatever loads, checks and saves without an exception
        again = parse_document(document_bytes(result))
        assert again.name == result.name and set(again.networks) == set(result.networks)


@fuzz
@given(_mutation(surrogates))
def test_a_lone_surrogate_is_refused_exactly_where_it_was_put(mutation):
    _, where, record = mutation
    result = _load(record)
    assert isinstance(result, DocumentError)
    assert result.path == _json_path(where)
    assert "lone surrogate" in result.reason


@fuzz
@given(_mutation(st.integers(65, 400).map(lambda depth: json.loads("[" * depth + "]" * depth))))
def test_deep_nesting_is_refused_where_it_starts(mutation):
    _, where, record = mutation
    result = _load(record)
    assert isinstance(result, DocumentError)
    assert result.path.startswith(_json_path(where)) and "nested too deeply" in result.reason


@fuzz
@given(_mutation(surrogates))
def test_a_surrogate_in_a_key_is_refused_at_its_object(mutation):
    name, where, _ = mutation
    record = json.loads(json.dumps(PRESETS[name]))
    parent = record
    for key in where:
        if not isinstance(parent, dict | list) or not isinstance(parent[key], dict | list):
            break
        parent = parent[key]
    if not isinstance(parent, dict):
        return
    parent["bad\udc80key"] = 1
    result = _load(record)
    assert isinstance(result, DocumentError) and "a key holds a lone surrogate" in result.reason


# ---- files that are not regular files ------------------------------------------------


SPECIAL = {"fifo": (os.mkfifo, "a named pipe (FIFO)"),
           "link to /dev/zero": (lambda path: path.symlink_to("/dev/zero"), "a character device"),
           "folder": (os.mkdir, "a folder")}
needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"),
                                 reason="FIFOs and /dev/zero are POSIX")


@needs_posix
@pytest.mark.parametrize("suffix", [".json", ".ncz"])
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_file_is_refused_without_reading_it(tmp_path, kind, suffix):
    make, described = SPECIAL[kind]
    path = tmp_path / f"special{suffix}"
    make(path)
    with pytest.raises(DocumentError) as info:  # a FIFO would hang here; /dev/zero never ends
        engine.load_document(path)
    assert info.value.file == str(path)
    assert info.value.reason == f"cannot open {described}: only regular files are read"


def test_a_document_over_the_size_limit_is_refused_with_the_numbers(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(PRESETS["mlp_xor"]))
    size = path.stat().st_size
    monkeypatch.setattr(safeload, "MAX_DOCUMENT_BYTES", size - 1)
    monkeypatch.setattr(engine.readwrite, "MAX_DOCUMENT_BYTES", size - 1)
    with pytest.raises(DocumentError) as info:
        engine.load_document(path)
    assert info.value.reason.startswith(f"too large: {safeload.size_text(size)} ({size:,} bytes), "
                                        f"more than the {safeload.size_text(size - 1)} "
                                        f"({size - 1:,} bytes)")


def test_a_link_to_a_regular_file_is_followed(tmp_path):
    target = tmp_path / "real.json"
    target.write_text(json.dumps(PRESETS["mlp_xor"]))
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert engine.load_document(link).name == PRESETS["mlp_xor"]["name"]
