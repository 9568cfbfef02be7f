"""What NetCanvas's training loop costs over a hand-written PyTorch loop; prints a table.

    python benchmarks/trainer_overhead.py [--repeats 5] [--epochs 5] [--threads N]

Both sides train the LeNet preset (presets/lenet_digits.json) for 5 epochs
without augmentation, in this process, with the same torch thread count, the
same compiled network and the same data: the hand-written side loads the
dataset and compiles the network too, then shuffles, steps, reads each loss
(as the NaN guard does), evaluates the validation split every epoch and the
test split at the end, which is the work the trainer reports. Runs alternate
(A B, B A, ...) so drift on a shared machine hits both; the table shows
medians and their ratio. Target: trainer / hand-written <= 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.compiler import compile_network  # noqa: E402
from engine.data import load_dataset  # noqa: E402
from engine.presets import load_preset  # noqa: E402
from engine.training import Failed, make_trainer  # noqa: E402
from engine.training.setup import seed_everything  # noqa: E402


def lenet(epochs: int):
    doc = load_preset("lenet_digits")
    doc.training.pop("augment", None)
    doc.training.update(epochs=epochs, device="cpu")
    return doc


def run_trainer(epochs: int) -> float:
    """NetCanvas: the headless trainer, as the CLI runs it."""
    began = time.perf_counter()
    for event in make_trainer(lenet(epochs)).run():
        if isinstance(event, Failed):
            raise SystemExit(event.message)
    return time.perf_counter() - began


@torch.no_grad()
def evaluate(model, x, y, idx) -> tuple[float, float]:
    model.eval()
    out = torch.cat([model(x[b]) for b in idx.split(256)])
    return float(F.nll_loss(out, y[idx])), float((out.argmax(1) == y[idx]).float().mean())


def run_by_hand(epochs: int) -> float:
    """The same run written the way a PyTorch tutorial writes it."""
    began = time.perf_counter()
    doc = lenet(epochs)
    generator = seed_everything(0)
    data = load_dataset(doc.training, 0)
    model = compile_network(doc, "main")
    x, y = torch.from_numpy(data.x).float(), torch.from_numpy(data.y).long()
    train, val, test = (torch.from_numpy(data.splits[k]).long() for k in ("train", "val", "test"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    for _ in range(epochs):
        model.train()
        for idx in train[torch.randperm(len(train), generator=generator)].split(32):
            loss = F.nll_loss(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
        scheduler.step()
        evaluate(model, x, y, val)
    evaluate(model, x, y, test)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sides = {"hand-written": run_by_hand, "netcanvas": run_trainer}
    times: dict[str, list[float]] = {name: [] for name in sides}
    run_by_hand(1)  # warm-up: dataset caches, kernels, allocator
    run_trainer(1)
    for r in range(args.repeats):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name].append(sides[name](args.epochs))
    base, fastest = statistics.median(times["hand-written"]), min(times["hand-written"])
    print(f"LeNet preset, {args.epochs} epochs, no augmentation, {args.threads} torch "
          f"thread(s), {args.repeats} alternating runs each")
    print(f"{'loop':<14}{'median s':>10}{'min s':>10}{'ratio':>8}{'min ratio':>11}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<14}{median:>10.3f}{min(values):>10.3f}{median / base:>8.3f}"
              f"{min(values) / fastest:>11.3f}")
    # Each pair ran back to back, so its ratio cancels slow drift on a shared machine.
    pairs = [a / b for a, b in zip(times["netcanvas"], times["hand-written"], strict=True)]
    print(f"median of paired ratios: {statistics.median(pairs):.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
