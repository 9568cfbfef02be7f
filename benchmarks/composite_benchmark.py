"""A 6-layer Transformer built with `repeat` against the same model written by hand; prints a table.

    python benchmarks/composite_benchmark.py [--repeats 7] [--steps 20] [--layers 6]
        [--d-model 128] [--heads 4] [--ff 512] [--seq 32] [--batch 32] [--threads N] [--markdown]

NetCanvas side: a document whose encoder is one `TransformerEncoderBlock` node
with `repeat` 6, compiled by `engine.compiler.compile_network` (nested fx
GraphModules in an `nn.Sequential`). Hand-written side: the same architecture
as a tutorial writes it (an `EncoderBlock` module, `nn.Sequential` of six).
Before timing, the parameter counts must be equal and the hand-written model,
loaded with the compiled one's state dict (strictly: the keys are the same),
must compute the same outputs. Then both train (forward, cross-entropy,
backward, Adam step) on the same batch in this process, with the same torch
thread count; runs alternate (A B, B A, ...) so drift on a shared machine hits
both, and the table shows medians and the median of the paired ratios, of CPU time
(the measure on a shared machine) and of wall time.
Target: NetCanvas / hand-written <= 1.02.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.blocks.modules import PositionalEncoding  # noqa: E402
from engine.compiler import compile_network  # noqa: E402
from engine.document import Document  # noqa: E402

TARGET = 1.02


class EncoderBlock(nn.Module):
    """Self-attention, add & norm, feed-forward, add & norm (post-norm, as in the paper)."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, num_heads, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, dim_feedforward)
        self.relu = nn.ReLU()
        self.ff2 = nn.Linear(dim_feedforward, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attention(x, x, x)
        x = self.norm1(x + attended)
        return self.norm2(x + self.ff2(self.relu(self.ff1(x))))


class HandWritten(nn.Module):
    def __init__(self, vocab: int, d_model: int, num_heads: int, dim_feedforward: int, layers: int,
                 max_len: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = PositionalEncoding(d_model, max_len)
        self.encoder = nn.Sequential(*(EncoderBlock(d_model, num_heads, dim_feedforward)
                                       for _ in range(layers)))
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.pos(self.embed(tokens))))


def document(args: argparse.Namespace) -> Document:
    """The same Transformer as a NetCanvas document: one encoder node, repeated."""
    doc = Document("6-layer Transformer")
    net = doc.add_network("main")
    net.add_node("Input", {"shape": [args.seq]}, node_id="tokens")
    net.add_node("Embedding", {"num_embeddings": args.vocab, "embedding_dim": args.d_model},
                 node_id="embed")
    net.add_node("PositionalEncoding", {"max_len": args.seq}, node_id="pos")
    net.add_node("TransformerEncoderBlock", {"d_model": args.d_model, "num_heads": args.heads,
                                             "dim_feedforward": args.ff, "repeat": args.layers},
                 node_id="encoder")
    net.add_node("Linear", {"out_features": args.vocab}, node_id="head")
    net.add_node("Output", node_id="out")
    for a, b in (("tokens", "embed"), ("embed", "pos"), ("pos", "encoder"), ("encoder", "head"),
                 ("head", "out")):
        net.connect(f"{a}.out", f"{b}.in")
    return doc


def models(args: argparse.Namespace) -> dict[str, nn.Module]:
    """Both sides, checked to be the same model: counts, keys and outputs."""
    compiled = compile_network(document(args), "main", trained=False)
    by_hand = HandWritten(args.vocab, args.d_model, args.heads, args.ff, args.layers, args.seq)
    counts = [sum(p.numel() for p in m.parameters()) for m in (compiled, by_hand)]
    assert counts[0] == counts[1], f"parameter counts differ: {counts}"
    by_hand.load_state_dict(compiled.state_dict())  # strict: the same keys
    probe = torch.randint(0, args.vocab, (2, args.seq), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(compiled(probe), by_hand(probe))
    return {"hand-written": by_hand, "netcanvas": compiled}


def timer(model: nn.Module, args: argparse.Namespace):
    """A function that trains `model` for args.steps steps and returns the seconds."""
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, args.vocab, (args.batch, args.seq), generator=generator)
    targets = torch.randint(0, args.vocab, (args.batch, args.seq), generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def run() -> tuple[float, float]:
        began, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            loss = F.cross_entropy(model(tokens).transpose(1, 2), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return time.process_time() - cpu, time.perf_counter() - began

    return run


def table(times: dict[str, list[tuple[float, float]]], args: argparse.Namespace,
          parameters: int) -> str:
    """Markdown: per side the median CPU and wall seconds per step, and the paired ratios.

    CPU time (`time.process_time`, every thread of the process) is the measure on a
    shared machine, where waiting for a core inflates wall time at random.
    """
    lines = [f"{args.layers}-layer Transformer (d_model {args.d_model}, {args.heads} heads, "
             f"feed-forward {args.ff}, {args.seq} tokens, batch {args.batch}), {parameters:,} "
             f"parameters on both sides; {args.steps} training steps per run, {args.repeats} "
             f"alternating runs each, {torch.get_num_threads()} torch thread(s), torch "
             f"{torch.__version__}", "",
             "| model | CPU ms / step (median) | min | wall ms / step (median) | min |",
             "|---|---|---|---|---|"]
    for name, values in times.items():
        cpu, wall = ([1000 * v[k] / args.steps for v in values] for k in (0, 1))
        lines.append(f"| {name} | {statistics.median(cpu):.1f} | {min(cpu):.1f} | "
                     f"{statistics.median(wall):.1f} | {min(wall):.1f} |")
    ratios = [statistics.median(a[k] / b[k] for a, b in zip(times["netcanvas"], times["hand-written"],
                                                            strict=True)) for k in (0, 1)]
    verdict = "met" if ratios[0] <= TARGET else "MISSED"
    lines += ["", f"Median of paired ratios, netcanvas / hand-written: CPU time **{ratios[0]:.3f}** "
                  f"(target ≤ {TARGET}: {verdict}), wall time {ratios[1]:.3f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in (("repeats", 7), ("steps", 20), ("layers", 6), ("d-model", 128),
                          ("heads", 4), ("ff", 512), ("seq", 32), ("batch", 32), ("vocab", 32),
                          ("threads", torch.get_num_threads())):
        parser.add_argument(f"--{flag}", type=int, default=default)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sides = models(args)
    parameters = sum(p.numel() for p in sides["netcanvas"].parameters())
    runs = {name: timer(model, args) for name, model in sides.items()}
    for run in runs.values():  # warm-up: allocator, kernels, Adam's state
        run()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for r in range(args.repeats):
        for name in (list(runs) if r % 2 == 0 else list(reversed(runs))):
            times[name].append(runs[name]())
    print(table(times, args, parameters))


if __name__ == "__main__":
    main()
