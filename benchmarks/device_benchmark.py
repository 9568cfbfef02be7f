"""Training throughput on CPU and CUDA, fp32/bf16/fp16, eager/compiled, against hand-written PyTorch.

    python benchmarks/device_benchmark.py [--steps 20] [--repeats 3] [--no-targets]

For the LeNet, Transformer and GAN presets (lenet_digits, transformer_reverse,
gan_digits) and every device/precision/compile combination that can run here,
two sides train on the same data in this process: NetCanvas's trainer (the
document compiled to an fx GraphModule, through `make_trainer` with RunOptions)
and the same architecture written by hand as `nn.Module`s with the same
optimizer, loss, autocast, GradScaler and torch.compile. Each measurement skips
`warmup` steps (compilation, allocator) and times the next `steps`; sides
alternate (A B, B A, ...) and the table shows median samples/s and their ratio
(compiled rows: one run each, compiling dominates). Eager rows run first, then
(with a GPU) the targets, then compiled rows, CUDA first; rows that would start
after `--minutes` (default 9) are listed as not run, so the script ends within ten.

With a CUDA GPU it also trains each preset to its target on CUDA (the preset's
own settings, `device: auto`). Without one it says so and runs the CPU rows with
few steps; fp16 is CUDA-only (NetCanvas refuses it on the CPU), so it has no CPU
row. Compiled CPU rows need a C++ compiler and are skipped without one.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import load_dataset  # noqa: E402
from engine.presets import Expectation, load_preset  # noqa: E402
from engine.training import Failed, Step, make_trainer  # noqa: E402
from engine.training.precision import compile_problem, precision_problem  # noqa: E402

PRESETS = ("lenet_digits", "transformer_reverse", "gan_digits")
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# ---- the same architectures, written by hand ------------------------------------------------


class LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.fc1, self.fc2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.log_softmax(self.fc2(F.relu(self.fc1(x.flatten(1)))), dim=1)


class Reverser(nn.Module):
    """Embedding + sinusoidal positions, a hand-built post-norm block, then an encoder layer."""

    def __init__(self, vocab: int = 10, dim: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        position = torch.arange(64).unsqueeze(1)
        div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = torch.zeros(64, dim)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(position * div), torch.cos(position * div)
        self.register_buffer("pe", pe, persistent=False)
        self.attention = nn.MultiheadAttention(dim, 4, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff1, self.ff2 = nn.Linear(dim, 256), nn.Linear(256, dim)
        self.encoder = nn.TransformerEncoderLayer(dim, 4, 256, dropout=0.0, batch_first=True)
        self.logits = nn.Linear(dim, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.pe[: x.shape[1]]
        h = self.norm1(h + self.attention(h, h, h)[0])
        h = self.norm2(h + self.ff2(F.relu(self.ff1(h))))
        return self.logits(self.encoder(h))


def generator() -> nn.Module:
    return nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                         nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 784), nn.Tanh())


def discriminator() -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    for width_in, width in ((784, 1024), (1024, 512), (512, 256)):
        layers += [nn.Linear(width_in, width), nn.ReLU(), nn.Dropout(0.3)]
    return nn.Sequential(*layers, nn.Linear(256, 1), nn.Sigmoid())


# ---- hand-written training steps --------------------------------------------------------------


class HandRun:
    """A tutorial-style loop for one preset: autocast, GradScaler and torch.compile by hand."""

    def __init__(self, preset: str, device: torch.device, precision: str, compiled: bool) -> None:
        doc = load_preset(preset)
        self.preset, self.device, self.dtype = preset, device, DTYPES[precision]
        self.batch = int(doc.training["batch_size"])
        data = load_dataset(doc.training, 0)
        x = torch.from_numpy(data.x)
        self.x = (x.float() if x.is_floating_point() else x.long()).to(device)
        if preset == "gan_digits":
            self.x = self.x * 2 - 1  # the Tanh generator's range, as NetCanvas scales it
        self.y = torch.from_numpy(data.y).long().to(device) if data.y is not None else None
        self.train_idx = torch.from_numpy(data.splits["train"]).long()
        lr = float(doc.training["optimizer"]["lr"])
        if preset == "gan_digits":
            self.models = [generator().to(device), discriminator().to(device)]
            self.optimizers = [torch.optim.Adam(m.parameters(), lr=lr, betas=(0.5, 0.999))
                               for m in self.models]
        else:
            self.models = [(LeNet() if preset == "lenet_digits" else Reverser()).to(device)]
            self.optimizers = [torch.optim.Adam(self.models[0].parameters(), lr=lr)]
        self.runs: list[Callable] = [torch.compile(m) if compiled else m for m in self.models]
        fp16 = precision == "fp16"
        self.scalers = [torch.amp.GradScaler(device.type, enabled=fp16) for _ in self.optimizers]
        self.generator = torch.Generator().manual_seed(0)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None)

    def update(self, k: int, loss: torch.Tensor) -> None:
        loss.item()  # NetCanvas reads every loss (its NaN guard): so does this side
        self.optimizers[k].zero_grad(set_to_none=True)
        self.scalers[k].scale(loss).backward()
        self.scalers[k].step(self.optimizers[k])
        self.scalers[k].update()

    def step(self, idx: torch.Tensor) -> None:
        xb = self.x[idx]
        if self.preset != "gan_digits":
            with self.autocast():
                out = self.runs[0](xb)
            out = out.float()
            target = self.y[idx]
            loss = (F.nll_loss(out, target) if self.preset == "lenet_digits"
                    else F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1)))
            self.update(0, loss)
            return
        g, d = self.runs
        n = len(idx)
        noise = torch.randn((n, 100), generator=self.generator).to(self.device)
        ones = torch.ones(n, 1, device=self.device)
        with self.autocast():
            fake = g(noise)
        fake = fake.float()
        with self.autocast():
            real_score, fake_score = d(xb.reshape(n, 1, 28, 28)), d(fake.detach().reshape(n, 1, 28, 28))
        self.update(1, F.binary_cross_entropy(real_score.float(), ones)
                    + F.binary_cross_entropy(fake_score.float(), ones * 0))
        with self.autocast():
            judged = d(fake.reshape(n, 1, 28, 28))
        self.update(0, F.binary_cross_entropy(judged.float(), ones))

    def measure(self, warmup: int, steps: int) -> float:
        """Samples per second over `steps` full batches after `warmup` ones."""
        for m in self.models:
            m.train()
        order = self.train_idx[torch.randperm(len(self.train_idx), generator=self.generator)]
        batches = [b for b in order.split(self.batch) if len(b) == self.batch]
        batches = (batches * (1 + (warmup + steps) // len(batches)))[: warmup + steps]
        for idx in batches[:warmup]:
            self.step(idx)
        _sync(self.device)
        began = time.perf_counter()
        for idx in batches[warmup:]:
            self.step(idx)
        _sync(self.device)
        return steps * self.batch / (time.perf_counter() - began)


# ---- NetCanvas's side ---------------------------------------------------------------------------


def netcanvas_rate(preset: str, device: torch.device, precision: str, compiled: bool,
                   warmup: int, steps: int) -> float:
    """Samples per second over `steps` Step-to-Step intervals after `warmup` steps.

    An interval that crosses an epoch's end (validation, the Epoch event) is not
    counted: the hand-written side does no validation. Every step reads its loss
    (the NaN guard), so a Step event arrives after the GPU finished that step.
    """
    doc = load_preset(preset)
    doc.training.update(device=str(device), epochs=10_000)
    doc.training.pop("augment", None)  # the hand-written side has none
    batch = int(doc.training["batch_size"])
    trainer = make_trainer(doc, precision=precision, compile=compiled)
    previous, counted, seconds = None, 0, 0.0
    for event in trainer.run():
        if isinstance(event, Failed):
            raise SystemExit(f"{preset} {device} {precision}: {event.message}")
        if not isinstance(event, Step) or counted == steps:
            continue
        now = time.perf_counter()
        if previous is not None and event.step > warmup and event.epoch == previous[0]:
            seconds += now - previous[1]
            counted += 1
            if counted == steps:
                trainer.stop()
        previous = (event.epoch, now)
    return counted * batch / seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- the table ------------------------------------------------------------------------------------


def combinations(presets: list[str], devices: list[torch.device],
                 compiled: bool) -> list[tuple[str, torch.device, str, bool]]:
    """Every row that can run here, cheapest first: eager rows, then compiled ones.

    Compiling costs tens of seconds per graph, so under the time budget the eager
    rows (and, with a GPU, the targets, which `main` runs between) always come first.
    """
    rows = []
    for mode in (False, True) if compiled else (False,):
        for device in reversed(devices) if mode else devices:  # compiled: CUDA first
            if mode and compile_problem(device):
                continue
            rows += [(preset, device, precision, mode) for preset in presets
                     for precision in DTYPES if not precision_problem(precision, device)]
    return rows


def measure_row(preset: str, device: torch.device, precision: str, compiled: bool,
                args: argparse.Namespace) -> tuple[float, float]:
    """Median samples/s of (NetCanvas, hand-written), alternating which runs first."""
    torch._dynamo.reset()
    rates: dict[str, list[float]] = {"netcanvas": [], "hand": []}
    for r in range(1 if compiled else args.repeats):  # compiling dominates: once
        sides = ["netcanvas", "hand"] if r % 2 == 0 else ["hand", "netcanvas"]
        for side in sides:
            torch.manual_seed(0)
            if side == "netcanvas":
                rate = netcanvas_rate(preset, device, precision, compiled, args.warmup, args.steps)
            else:
                rate = HandRun(preset, device, precision, compiled).measure(args.warmup, args.steps)
            rates[side].append(rate)
    return statistics.median(rates["netcanvas"]), statistics.median(rates["hand"])


def check_targets() -> list[str]:
    """Train each preset to its target with its own settings on CUDA (device auto)."""
    from benchmarks.presets_benchmark import train_preset

    lines, trained, results = [], {}, {}
    for name in PRESETS:  # LeNet first: the GAN's metric uses the trained LeNet
        metrics, seconds, failure = train_preset(name, trained)
        results[name] = metrics
        expect = Expectation.of(load_preset(name))
        ok = not failure and expect.met(metrics, seconds, results)
        value = metrics.get(expect.metric)
        lines.append(f"| {name} | {expect.metric} | {value if value is None else f'{value:.4g}'} "
                     f"| {expect.target_text()} | {seconds:.0f} | {'yes' if ok else 'NO ' + failure[:60]} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps (CPU 10, GPU 50)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (CPU 3, GPU 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--no-compile", action="store_true", help="eager rows only")
    parser.add_argument("--no-targets", action="store_true", help="skip training to the targets")
    parser.add_argument("--minutes", type=float, default=9.0,
                        help="rows that would start after this many minutes are listed, not run")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    args.steps = args.steps or (50 if cuda else 10)
    args.warmup = args.warmup or (10 if cuda else 3)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if cuda else [])
    if not cuda:
        print("no CUDA GPU here: CPU rows only (the GPU rows need a machine with an NVIDIA GPU)")
    else:
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    for device in devices:
        problem = compile_problem(device)
        if problem and not args.no_compile:
            print(f"{device}: compiled rows skipped: {problem}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); {args.warmup} "
          f"warm-up + {args.steps} timed steps, median of {args.repeats} alternating runs "
          "(compiled rows: one run)\n")
    began = time.monotonic()
    rows = combinations(args.presets, devices, not args.no_compile)
    print("| preset | device | precision | mode | NetCanvas samples/s | hand-written samples/s "
          "| ratio |")
    print("|---|---|---|---|---:|---:|---:|")
    targets_due = cuda and not args.no_targets
    for preset, device, precision, compiled in rows:
        if compiled and targets_due:  # with a GPU, the targets before any compiling
            targets_due = False
            _print_targets()
        mode = "compiled" if compiled else "eager"
        if time.monotonic() - began > args.minutes * 60:
            print(f"| {preset} | {device.type} | {precision} | {mode} | not run: over "
                  f"--minutes {args.minutes:g} | | |", flush=True)
            continue
        ours, hand = measure_row(preset, device, precision, compiled, args)
        print(f"| {preset} | {device.type} | {precision} | {mode} "
              f"| {ours:,.0f} | {hand:,.0f} | {ours / hand:.2f} |", flush=True)
    if targets_due:
        _print_targets()
    print(f"\n{time.monotonic() - began:.0f} s in all")
    return 0


def _print_targets() -> None:
    print("\nTargets on CUDA (each preset's own settings):\n")
    print("| preset | metric | value | target | seconds | reached |")
    print("|---|---|---:|---|---:|---|")
    for line in check_targets():
        print(line, flush=True)
    print("\n| preset | device | precision | mode | NetCanvas samples/s | hand-written samples/s "
          "| ratio |")
    print("|---|---|---|---|---:|---:|---:|")


if __name__ == "__main__":
    sys.exit(main())
