"""PyTorch source export stays valid Python whatever names and values a document holds.

Node ids, network names, the title and parameter values all end up in
`model.py`. Hypothesis draws them from what the document format accepts,
leaning on the awkward ones: keywords, `nn.Module`'s own attributes, names
Python mangles inside a class, quotes, backslashes, NUL, unicode, NaN.
"""

from __future__ import annotations

import importlib.util
import keyword
import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from torch import nn

import engine
from engine.document import IDENTIFIER
from engine.export import export_python
from engine.export.pyconstructors import constructor
from engine.export.pynames import docstring_text, layer_attributes, literal

AWKWARD = [*keyword.kwlist, "self", "forward", "training", "__init__", "__hidden", "__x__", "__",
           "_", "torch", "nn", "math", "getattr", "float", "Main", "T_destination", "state_dict"]
ids = st.one_of(st.sampled_from(AWKWARD), st.from_regex(IDENTIFIER, fullmatch=True))
texts = st.text(st.characters(codec=None), max_size=30)  # any code point, surrogates too


def chain_doc(name: str, networks: list[str], node_ids: list[str], slope: float) -> engine.Document:
    """Per network: Input -> Linear -> LeakyReLU(slope) -> Linear -> Output, ids from `node_ids`."""
    doc = engine.Document(name)
    for index, network in enumerate(networks):
        net = doc.add_network(network)
        first, fc, act, fc2, out = node_ids
        net.add_node("Input", {"shape": [3 + index]}, node_id=first)
        net.add_node("Linear", {"out_features": 5}, node_id=fc)
        net.add_node("LeakyReLU", {"negative_slope": slope}, node_id=act)
        net.add_node("Linear", {"out_features": 2}, node_id=fc2)
        net.add_node("Output", node_id=out)
        for a, b in ((first, fc), (fc, act), (act, fc2), (fc2, out)):
            net.connect(f"{a}.out", f"{b}.in")
    return doc


def load_from_disk(folder: Path, tag: str):
    spec = importlib.util.spec_from_file_location(f"exported_{tag}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_reproduces(doc: engine.Document, folder: Path) -> None:
    """model.py, imported from the file, with state_dict.pt, computes what the compiler's module does."""
    exported = export_python(doc, folder)
    generated = load_from_disk(exported.path, str(abs(hash(str(folder)))))
    state = torch.load(folder / "state_dict.pt", weights_only=True)
    classes = [line.split()[1].split("(")[0] for line in (folder / "model.py").read_text().splitlines()
               if line.startswith("class ")]
    assert len(classes) == len(doc.networks)
    for network, cls in zip(doc.networks, classes, strict=True):
        model = getattr(generated, cls)()
        model.load_state_dict(state[network] if len(doc.networks) > 1 else state)
        model.eval()
        x = torch.randn(4, doc.network(network).nodes[model_input(doc, network)].params["shape"][0])
        expected = engine.compile_network(doc, network).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x), expected(x), rtol=0, atol=0, equal_nan=True)


def model_input(doc: engine.Document, network: str) -> str:
    net = doc.network(network)
    return next(n for n, node in net.nodes.items() if node.block == "Input")


def trained(doc: engine.Document) -> engine.Document:
    for network in doc.networks:
        doc.weights[network] = engine.compile_network(doc, network, trained=False).state_dict()
    return doc


@pytest.mark.parametrize("case", ["nan parameter", "nul in the title", "mangled id"])
def test_the_reported_crashes_export_and_run(tmp_path: Path, case: str) -> None:
    # NameError: nan / SyntaxError: null bytes / missing key `_Main__hidden.weight`
    name, node_ids, slope = "m", ["x", "fc", "act", "fc2", "y"], 0.1
    if case == "nan parameter":
        slope = math.nan
    elif case == "nul in the title":
        name = 'a\x00b "quoted" \\ back'
    else:
        node_ids[1] = "__hidden"
    doc = chain_doc(name, ["main"], node_ids, slope)
    if case == "nan parameter":  # checking now refuses NaN parameters: the export never sees one
        assert any("act (LeakyReLU): negative_slope must be a finite number" in e
                   for e in engine.check(doc).errors)
        return
    assert_reproduces(trained(doc), tmp_path)
    if case == "mangled id":
        assert "__hidden.weight" in torch.load(tmp_path / "state_dict.pt", weights_only=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(name=texts, networks=st.lists(ids, min_size=1, max_size=2, unique=True),
       node_ids=st.lists(ids, min_size=5, max_size=5, unique=True),
       slope=st.one_of(st.floats(0.0, 1.0), st.sampled_from([math.nan, math.inf, -0.0, 2.0])))
@example(name="", networks=["none", "a_b"], node_ids=["fc__", "fc_", "fc", "class", "forward"],
         slope=math.nan)
@example(name="x", networks=["a_b", "a__b"], node_ids=["__x", "_x", "x", "training", "Main"],
         slope=0.5)
def test_generated_source_is_valid_for_any_document_that_checks(
        tmp_path_factory, name: str, networks: list[str], node_ids: list[str], slope: float) -> None:
    doc = chain_doc(name, networks, node_ids, slope)
    assume(engine.check(doc).ok)  # out-of-range slopes are refused by the checker, not here
    assert_reproduces(trained(doc), tmp_path_factory.mktemp("src"))


def test_non_finite_values_are_written_as_python_expressions() -> None:
    assert constructor(nn.LeakyReLU(math.nan)) == 'nn.LeakyReLU(negative_slope=float("nan"))'
    assert eval(literal((1.0, -math.inf, "it's \"x\"\x00"))) == (1.0, -math.inf, "it's \"x\"\x00")
    assert eval(literal([math.inf])) == [math.inf] and literal((2,)) == "(2,)"


def test_titles_become_one_docstring_line_that_reads_back() -> None:
    for title in ['a\x00b', 'x\\N"""', 'ends with "', "caf\u00e9 \u200b \udcff", "two\nlines"]:
        text = docstring_text(title)
        assert "\n" not in text
        assert eval(f'"""{text} ."""') == " ".join(title.splitlines()) + " ."


def test_layer_attributes_keep_node_ids_except_module_attributes() -> None:
    names = layer_attributes(["class", "fc", "forward", "forward_", "training", "__hidden"])
    assert names == {"class": "class", "fc": "fc", "forward": "forward__", "forward_": "forward_",
                     "training": "training_", "__hidden": "__hidden"}
