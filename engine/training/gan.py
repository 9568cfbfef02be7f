"""Generative adversarial training: two networks, two optimizers, one alternating loop.

Goodfellow et al.'s recipe as everyone runs it: the discriminator learns to tell
real from generated samples, then the generator learns to fool it with the
non-saturating loss (maximise log D(G(z)) rather than minimise log(1 − D(G(z))),
which has vanishing gradients early on). The generator's output and the
discriminator's input may be flat or image-shaped; the trainer reshapes between
them and the data, so the write-up's MLP GAN and a convolutional one both work.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from engine.data import ArrayDataset
from engine.errors import NetCanvasError
from engine.training.base import Trainer
from engine.training.events import Event, Samples
from engine.training.feeding import batches, input_sources, to_tensor
from engine.training.settings import section, setting, value
from engine.training.setup import make_loss, make_optimizer

NETWORKS = ("generator", "discriminator")
COVERAGE_SAMPLES = 2500  # PacGAN's protocol: 2,500 samples, a mode counts with ≥ 20 of them
COVERAGE_MIN_COUNT = 20


class GanTrainer(Trainer):
    """Alternating discriminator/generator updates over the real samples."""

    task = "gan"
    # Adversarial losses wander by design (one network gains as the other loses), so the
    # divergence guard (a loss exploding from its start) does not apply; NaN still stops it.
    history_keys = ("epoch_train",)  # val holds D's scores, not a split's metrics

    def setup(self) -> None:
        data = self.load_data()
        if not isinstance(data, ArrayDataset) or data.x.dtype.kind != "f":
            raise NetCanvasError("a GAN learns to imitate real-valued samples (images or points); "
                                 f"'{getattr(data, 'name', '?')}' is not an array dataset of them")
        self.data = data
        missing = [n for n in NETWORKS if n not in self.doc.networks]
        if missing:
            raise NetCanvasError(
                f"a GAN needs two networks, 'generator' (noise → sample) and 'discriminator' "
                f"(sample → one real/fake score); this document lacks {' and '.join(missing)}")
        self.g, self.d = self.build("generator"), self.build("discriminator")
        self.noise_shape = self._input_shape("generator", "noise")
        self.judge_shape = self._input_shape("discriminator", "x")
        self.data_shape = tuple(data.x.shape[1:])
        self.loss_name = self._loss_name()
        self.loss_fn = make_loss(self.loss_name)
        self.optimizers = {n: make_optimizer(self._optimizer_spec(n), m.parameters())
                           for n, m in (("generator", self.g), ("discriminator", self.d))}
        self.scaled = self._scale()
        real = to_tensor(data.x, self.device).float()
        self.real = real * 2 - 1 if self.scaled else real  # Tanh's range when scaled
        which = setting(self.training, "gan", "samples_from")
        self.indices = (torch.arange(len(data.x)) if which == "all"
                        else torch.from_numpy(data.splits["train"]).long())
        self.batch_size = value(self.training, "batch_size")
        self.steps_per_epoch = max(1, -(-len(self.indices) // self.batch_size))
        self._read_settings()
        self.last = {"generator": math.nan, "discriminator": math.nan}

    def _read_settings(self) -> None:
        def get(key, *computed):  # type, range and default are the schema's (a computed default aside)
            return setting(self.training, "gan", key, *computed)

        self.d_steps = get("d_steps")
        self.real_label = get("real_label")  # < 1: label smoothing
        self.sample_every = get("sample_every")
        self.points = self.data_shape == (2,)
        count = get("samples", 512 if self.points else 16)
        fixed = torch.Generator().manual_seed(self.seed + 1)  # the same z all run: the grid evolves
        self.fixed_noise = torch.randn((count, *self.noise_shape), generator=fixed).to(self.device)
        self.fixed_real = self.real[torch.randperm(len(self.real), generator=fixed)[:count]]

    # ---- reading the document ---------------------------------------------------

    def _input_shape(self, network: str, source: str) -> tuple[int, ...]:
        """The per-sample shape of the network's one Input, which must read `source`."""
        model = self.models[network]
        sources = input_sources(self.doc, network, model)
        if sources != [source]:
            raise NetCanvasError(
                f"network '{network}' must have exactly one Input, with source '{source}'; "
                f"it has {', '.join(repr(s) for s in sources) or 'none'}")
        node = model.meta["inputs"][0]
        shape = self.reports[network].nodes[node].outputs["out"]  # checked when compiled
        per_sample = tuple(shape[1:])
        if not per_sample or any(d is None for d in per_sample):
            raise NetCanvasError(
                f"network '{network}': the Input '{node}' needs an explicit per-sample shape "
                "(e.g. [100] for the noise)")
        return per_sample

    def _last_block(self, network: str) -> str:
        net = self.doc.network(network)
        output = next(n for n in net.nodes.values() if n.block == "Output")
        return net.nodes[net.incoming(output.id)["in"].src].block

    def _loss_name(self) -> str:
        ends_in_sigmoid = self._last_block("discriminator") == "Sigmoid"
        name = self.training.get("loss") or ("bce" if ends_in_sigmoid else "bce_logits")
        if name not in ("bce", "bce_logits"):
            raise NetCanvasError(f"training.loss: a GAN's discriminator is trained with bce (after "
                                 f"a Sigmoid) or bce_logits (raw scores), not '{name}'")
        if name == "bce" and not ends_in_sigmoid:
            raise NetCanvasError("training.loss is bce, which needs probabilities: end the "
                                 "discriminator with a Sigmoid, or set the loss to bce_logits")
        return name

    def _optimizer_spec(self, network: str):
        per_network = section(self.training, "gan").get("optimizers", {}) or {}
        return per_network.get(network, self.training.get("optimizer"))

    def _scale(self) -> bool:
        """Whether real samples are mapped from [0, 1] to [-1, 1], Tanh's range."""
        mode = setting(self.training, "gan", "scale")
        if mode != "auto":
            return mode == "tanh"
        in_unit = float(self.data.x.min()) >= 0.0 and float(self.data.x.max()) <= 1.0
        return in_unit and self._last_block("generator") == "Tanh"

    # ---- one step ----------------------------------------------------------------

    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        out = self.forward(self.g, noise)
        n = len(noise)
        if out.numel() != n * math.prod(self.data_shape):
            raise NetCanvasError(
                f"the generator makes {tuple(out.shape[1:])} per sample but the data are "
                f"{self.data_shape}: its last layer should give {math.prod(self.data_shape)} values")
        return out.reshape(n, *self.data_shape)

    def judge(self, samples: torch.Tensor) -> torch.Tensor:
        """One real/fake score per sample, the samples reshaped to what D's Input takes."""
        n = len(samples)
        out = self.forward(self.d, samples.reshape(n, *self.judge_shape))
        if out.numel() != n:
            raise NetCanvasError(f"the discriminator gives {tuple(out.shape[1:])} per sample; it "
                                 "must give one score (end it with Linear(out_features=1))")
        return out.reshape(n)

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn((n, *self.noise_shape), generator=self.generator).to(self.device)

    def adversarial_step(self, real: torch.Tensor) -> tuple[float, float]:
        """D on real + fake, then G with the non-saturating loss; returns (d_loss, g_loss)."""
        n = len(real)
        ones = torch.ones(n, device=self.device)
        fake = self.generate(self.noise(n))  # (N, *data_shape), kept for G's update
        for k in range(self.d_steps):
            batch = fake.detach() if k == 0 else self.generate(self.noise(n)).detach()
            d_loss = (self.loss_fn(self.judge(real), ones * self.real_label)
                      + self.loss_fn(self.judge(batch), ones * 0))
            d_value = self.apply(d_loss, self.optimizers["discriminator"])
        g_value = self.apply(self.loss_fn(self.judge(fake), ones), self.optimizers["generator"])
        return d_value, g_value

    # ---- the loop's hooks ------------------------------------------------------

    def begin_epoch(self) -> None:
        self.g.train()
        self.d.train()
        self.sums = {"generator": 0.0, "discriminator": 0.0}

    def batches(self) -> Iterator[torch.Tensor]:
        return batches(self.indices, self.batch_size, self.generator)

    def train_step(self, idx: torch.Tensor) -> tuple[float, int, dict[str, float]]:
        d_value, g_value = self.adversarial_step(self.real[idx].to(self.device))
        self.sums["generator"] += g_value
        self.sums["discriminator"] += d_value
        return g_value, len(idx), {"generator": g_value, "discriminator": d_value}

    def after_step(self) -> Iterator[Event]:
        if self.sample_every and self.step % self.sample_every == 0:
            yield self.samples()

    def end_epoch(self) -> tuple[dict[str, float], dict[str, float]]:
        self.last = {k: v / self.steps_per_epoch for k, v in self.sums.items()}
        return dict(self.last), self.scores()

    def after_epoch(self) -> Iterator[Event]:
        if not self.sample_every:
            yield self.samples()

    # ---- what the run shows ------------------------------------------------------

    @torch.no_grad()
    def samples(self) -> Samples:
        """The fixed noise through the generator, as images in [0, 1] or as 2-D points."""
        was_training = self.g.training
        self.g.eval()
        fake = self.generate(self.fixed_noise)
        self.g.train(was_training)
        if self.points:
            return Samples(self.step, "points", _numpy(fake), _numpy(self.fixed_real))
        if self.scaled:
            fake = (fake + 1) / 2
        return Samples(self.step, "generated", _numpy(_as_images(fake.clamp(0, 1)
                                                                   if self.scaled else fake)))

    @torch.no_grad()
    def scores(self) -> dict[str, float]:
        """Mean D(x) on real and generated samples: 0.5 on both is the game's equilibrium."""
        self.d.eval()
        self.g.eval()
        n = min(len(self.real), 512)
        real = self.real[self.indices[:n]].to(self.device)
        scores = {"d_real": self.judge(real), "d_fake": self.judge(self.generate(self.noise(n)))}
        self.d.train()
        self.g.train()
        if self.loss_name == "bce_logits":
            scores = {k: torch.sigmoid(v) for k, v in scores.items()}
        return {k: float(v.mean()) for k, v in scores.items()}

    @torch.no_grad()
    def final_metrics(self) -> dict:
        metrics = {f"{k}_loss": v for k, v in self.last.items()}
        metrics.update(self.scores())
        if self.points and self.data.y is not None and self.data.y.ndim == 1:
            self.g.eval()
            noise = torch.randn((COVERAGE_SAMPLES, *self.noise_shape),
                                generator=torch.Generator().manual_seed(self.seed + 2))
            fake = _numpy(self.generate(noise.to(self.device)))
            metrics.update(mode_coverage(fake, _numpy(self.real), self.data.y))
        return metrics


def mode_coverage(generated: np.ndarray, real: np.ndarray, labels: np.ndarray) -> dict:
    """Modes covered by generated 2-D points, as in the Unrolled-GAN and PacGAN papers.

    Each class of the real data is a mode (centre: its mean, σ: the pooled spread); a
    generated point is "high quality" within 3σ of its nearest centre, and a mode is
    covered when at least 20 of 2,500 generated points fall in it (scaled to the count).
    """
    classes = np.unique(labels)
    centres = np.stack([real[labels == c].mean(axis=0) for c in classes])  # (K, 2)
    sigma = float((real - centres[np.searchsorted(classes, labels)]).std())
    distance = np.linalg.norm(generated[:, None, :] - centres[None], axis=-1)  # (M, K)
    nearest = distance.argmin(axis=1)
    inside = distance[np.arange(len(generated)), nearest] <= 3 * sigma
    counts = np.bincount(nearest[inside], minlength=len(classes))
    needed = max(1, round(COVERAGE_MIN_COUNT * len(generated) / COVERAGE_SAMPLES))
    return {"modes_covered": int((counts >= needed).sum()), "modes_total": len(classes),
            "high_quality_fraction": float(inside.mean()), "mode_sigma": sigma}


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """(K, ...) samples as (K, C, H, W) where their shape allows, else unchanged."""
    if x.dim() == 4:
        return x
    if x.dim() == 3:
        return x[:, None]  # (K, 1, H, W)
    side = math.isqrt(x.shape[1]) if x.dim() == 2 else 0
    if side > 1 and side * side == x.shape[1]:
        return x.reshape(len(x), 1, side, side)
    return x


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy().copy()
