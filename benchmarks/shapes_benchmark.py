"""How fast shape inference is on a large graph: it runs on every edit in the editor.

Builds a 500-node network (a residual convolutional tower, then a recurrent and
attention head with residual branches: a long chain with skips, mixed blocks)
and prints a table of full inference, cold (empty rule cache) and warm, and of
re-inference after one parameter edit with the incremental `NetworkChecker`.
Targets from issue 2: full ≤ 50 ms, after an edit ≤ 5 ms. Also times
`engine.check()` on the LeNet preset, which is what `netcanvas check` and the
editor's first paint pay.

    python benchmarks/shapes_benchmark.py [--nodes 500] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine import shapes  # noqa: E402
from engine.document import Document, Network  # noqa: E402

FULL_TARGET_MS = 50.0
EDIT_TARGET_MS = 5.0


def build_network(doc: Document, nodes: int = 500) -> Network:
    """A long chain with residual branches: conv units, then sequence units, then a head."""
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [3, 16, 16]}, node_id="x")
    net.add_node("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, node_id="stem")
    net.connect("x.out", "stem.in")
    last = "stem"
    fixed = 17  # x, stem, three transition nodes, eleven head nodes, out
    conv_units = (nodes - fixed) // 2 // 8
    seq_units = (nodes - fixed - conv_units * 8) // 7
    for u in range(conv_units):  # conv, norm, relu, conv, norm, add(skip), relu, dropout
        skip = last
        for block, params in (("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
                              ("BatchNorm2d", {}), ("ReLU", {}),
                              ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
                              ("BatchNorm2d", {})):
            node = net.add_node(block, params, node_id=f"c{u}_{block.lower()}_{len(net.nodes)}")
            net.connect(f"{last}.out", f"{node.id}.in")
            last = node.id
        add = net.add_node("Add", node_id=f"c{u}_add")
        net.connect(f"{skip}.out", f"{add.id}.a")
        net.connect(f"{last}.out", f"{add.id}.b")
        relu = net.add_node("ReLU", node_id=f"c{u}_relu")
        net.connect(f"{add.id}.out", f"{relu.id}.in")
        drop = net.add_node("Dropout", {"p": 0.1}, node_id=f"c{u}_drop")
        net.connect(f"{relu.id}.out", f"{drop.id}.in")
        last = drop.id
    # To a sequence: N×16×16×16 -> pool -> N×16×8×8 -> N×16×64 (16 steps of 64 features).
    for block, params, node_id in (("MaxPool2d", {"kernel_size": 2}, "pool"),
                                   ("Reshape", {"shape": [16, -1]}, "to_seq"),
                                   ("PositionalEncoding", {"max_len": 64}, "pos")):
        net.add_node(block, params, node_id=node_id)
        net.connect(f"{last}.out", f"{node_id}.in")
        last = node_id
    for u in range(seq_units):  # norm, attention (self), add, norm, linear, gelu, add
        skip = last
        net.add_node("LayerNorm", node_id=f"s{u}_norm1")
        net.connect(f"{last}.out", f"s{u}_norm1.in")
        net.add_node("MultiheadAttention", {"num_heads": 4}, node_id=f"s{u}_attn")
        net.connect(f"s{u}_norm1.out", f"s{u}_attn.query")
        net.add_node("Add", node_id=f"s{u}_add1")
        net.connect(f"{skip}.out", f"s{u}_add1.a")
        net.connect(f"s{u}_attn.out", f"s{u}_add1.b")
        net.add_node("LayerNorm", node_id=f"s{u}_norm2")
        net.connect(f"s{u}_add1.out", f"s{u}_norm2.in")
        net.add_node("Linear", {"out_features": 64}, node_id=f"s{u}_ff")
        net.connect(f"s{u}_norm2.out", f"s{u}_ff.in")
        net.add_node("GELU", node_id=f"s{u}_gelu")
        net.connect(f"s{u}_ff.out", f"s{u}_gelu.in")
        net.add_node("Add", node_id=f"s{u}_add2")
        net.connect(f"s{u}_add1.out", f"s{u}_add2.a")
        net.connect(f"s{u}_gelu.out", f"s{u}_add2.b")
        last = f"s{u}_add2"
    head = (("LSTM", {"hidden_size": 32}), ("TakeLast", {}), ("Linear", {"out_features": 64}),
            ("ReLU", {}), ("Dropout", {}), ("Linear", {"out_features": 32}), ("Tanh", {}),
            ("Linear", {"out_features": 16}), ("Sigmoid", {}), ("Linear", {"out_features": 10}),
            ("LogSoftmax", {"dim": 1}))
    for i, (block, params) in enumerate(head):
        node_id = f"h{i}_{block.lower()}"
        net.add_node(block, params, node_id=node_id)
        net.connect(f"{last}.out", f"{node_id}.in")
        last = node_id
    while len(net.nodes) < nodes - 1:  # pad the tail to the exact count
        node_id = f"t{len(net.nodes)}"
        net.add_node("Dropout", {"p": 0.0}, node_id=node_id)
        net.connect(f"{last}.out", f"{node_id}.in")
        last = node_id
    net.add_node("Output", node_id="out")
    net.connect(f"{last}.out", "out.in")
    return net


def no_dataset() -> dict:
    return {}


def time_ms(fn: Callable[[], object], repeats: int, setup: Callable[[], object] | None = None,
            ) -> float:
    """Median wall time of `fn` in milliseconds; `setup` runs untimed before each call."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(nodes: int, repeats: int) -> list[tuple[str, float, float | None]]:
    doc = Document("benchmark")
    net = build_network(doc, nodes)
    assert len(net.nodes) == nodes, len(net.nodes)
    first = shapes.NetworkChecker(net, no_dataset).report()
    if not first.ok:
        raise SystemExit("benchmark graph has errors:\n" + "\n".join(first.errors))
    rows: list[tuple[str, float, float | None]] = []

    def full() -> None:
        checker = shapes.NetworkChecker(net, no_dataset)
        checker.report()
        checker.close()

    rows.append((f"full inference, cold cache ({nodes} nodes)",
                 time_ms(full, max(3, repeats // 3), setup=shapes._CACHE.clear), FULL_TARGET_MS))
    rows.append((f"full inference, warm cache ({nodes} nodes)", time_ms(full, repeats),
                 FULL_TARGET_MS))

    checker = shapes.NetworkChecker(net, no_dataset)
    checker.report()
    state = {"flip": False}

    def edit(node_id: str, name: str, values: tuple) -> Callable[[], None]:
        def run() -> None:
            state["flip"] = not state["flip"]
            net.set_param(node_id, name, values[state["flip"]])
            report = checker.report()
            assert report.ok, report.errors
        return run

    middle = [n for n in net.nodes if n.endswith("_drop")][len(net.nodes) // 40]
    rows.append((f"edit {middle}.p (shapes unchanged)", time_ms(edit(middle, "p", (0.1, 0.2)), repeats),
                 EDIT_TARGET_MS))
    rows.append(("edit h2_linear.out_features (shapes change downstream)",
                 time_ms(edit("h2_linear", "out_features", (64, 48)), repeats), EDIT_TARGET_MS))
    fresh = iter(range(100, 100 + repeats))

    def new_value() -> None:  # a value never seen before: the rule cache cannot help
        net.set_param("h2_linear", "out_features", next(fresh))
        checker.report()

    rows.append(("edit h2_linear.out_features to a new value (cold cache)",
                 time_ms(new_value, repeats), EDIT_TARGET_MS))
    rows.append(("edit stem.out_channels 16->8 (errors, then back)",
                 _error_round_trip(net, checker, repeats), None))
    checker.close()

    lenet = engine.load_document(ROOT / "presets" / "lenet_digits.json")
    engine.check(lenet)  # the dataset's shapes are memoised after the first look-up
    rows.append(("engine.check(LeNet preset), warm", time_ms(lambda: engine.check(lenet), repeats), None))
    rows.append(("engine.check(LeNet preset), cold cache",
                 time_ms(lambda: engine.check(lenet), repeats, setup=shapes._CACHE.clear), None))
    rows.append(("engine.check(LeNet preset), first call in a fresh process", _first_check_ms(), None))
    return rows


def _first_check_ms() -> float:
    """What `netcanvas check` and opening a file pay once: the dataset registry's imports."""
    code = (
        "import time, engine\n"
        f"doc = engine.load_document({str(ROOT / 'presets' / 'lenet_digits.json')!r})\n"
        "start = time.perf_counter()\n"
        "engine.check(doc)\n"
        "print((time.perf_counter() - start) * 1000)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _error_round_trip(net: Network, checker: shapes.NetworkChecker, repeats: int) -> float:
    """An edit that breaks every residual Add downstream, and its undo, each re-checked."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.set_param("stem", "out_channels", 8)
        assert not checker.report().ok
        net.set_param("stem", "out_channels", 16)
        assert checker.report().ok
        times.append((time.perf_counter() - start) * 1000 / 2)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = measure(args.nodes, args.repeats)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'median ms':>9}  {'target':>8}  verdict")
    missed = 0
    for label, ms, target in rows:
        verdict = "-" if target is None else ("ok" if ms <= target else "MISSED")
        missed += verdict == "MISSED"
        target_text = "-" if target is None else f"≤ {target:g}"
        print(f"{label:<{width}}  {ms:9.2f}  {target_text:>8}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
