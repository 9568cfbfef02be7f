"""Small generated datasets, each made to show one thing a classic architecture can do.

Every set is drawn from `numpy.random.default_rng(seed)`, so the same seed gives the
same arrays and split, and a different seed a different sample. The points are left
at their natural unit scale (no standardisation) so decision boundaries can be drawn
in the coordinates a person expects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.base import ArrayDataset, DataFacts, DatasetEntry, class_facts, option, register
from engine.data.splits import split_indices
from engine.errors import DatasetError


def _samples(spec: dict[str, Any], default: int) -> int:
    return option(spec, "n_samples", default, int, minimum=4)


def _noise(spec: dict[str, Any], default: float) -> float:
    return option(spec, "noise", default, float, minimum=0.0)


def _classes(name: str, x: np.ndarray, y: np.ndarray, seed: int, num_classes: int,
             class_names: list[str] | None = None, **info: Any) -> ArrayDataset:
    y = y.astype(np.int64)
    names = class_names or [str(c) for c in range(num_classes)]
    return ArrayDataset(name, x.astype(np.float32), y, split_indices(len(y), seed, y),
                        num_classes, names, info)


def _points(spec: dict[str, Any]) -> dict[str, tuple]:
    return {"x": (None, 2)}


# -- XOR ---------------------------------------------------------------------------


def _xor(spec: dict[str, Any], seed: int) -> ArrayDataset:
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    if option(spec, "exact", False, bool):
        # The truth table itself: too few points to hold any out, so every split is all four.
        y = np.array([0, 1, 1, 0], dtype=np.int64)
        everything = np.arange(4)
        splits = {"train": everything, "val": everything, "test": everything}
        return ArrayDataset("xor", corners, y, splits, 2, ["0", "1"], {"exact": True})
    rng = np.random.default_rng(seed)
    n = _samples(spec, 400)
    which = rng.integers(0, 4, n)
    x = corners[which] + rng.normal(0.0, _noise(spec, 0.1), (n, 2))
    y = (corners[which, 0] != corners[which, 1]).astype(np.int64)
    return _classes("xor", x, y, seed, 2)


register(DatasetEntry(
    "xor", "XOR: four clusters at the corners of the unit square, class = x1 xor x2. "
    "Not linearly separable, so one hidden layer is needed.",
    "arrays", _xor, _points,
    {"n_samples": "number of points (default 400)",
     "noise": "standard deviation around each corner (default 0.1)",
     "exact": "true: only the 4-point truth table, used for train, val and test"},
    facts=lambda spec: class_facts(_points(spec), 2),
))


# -- moons, circles, spirals -----------------------------------------------------------


def _moons(spec: dict[str, Any], seed: int) -> ArrayDataset:
    from sklearn import datasets as sk  # on use: importing scikit-learn takes a second
    x, y = sk.make_moons(_samples(spec, 500), noise=_noise(spec, 0.1), random_state=seed)
    return _classes("moons", x, y, seed, 2)


register(DatasetEntry(
    "moons", "Two interleaving half-moons (scikit-learn make_moons).", "arrays", _moons, _points,
    {"n_samples": "number of points (default 500)", "noise": "Gaussian noise (default 0.1)"},
    facts=lambda spec: class_facts(_points(spec), 2),
))


def _circles(spec: dict[str, Any], seed: int) -> ArrayDataset:
    from sklearn import datasets as sk  # on use: importing scikit-learn takes a second
    factor = option(spec, "factor", 0.5, float, minimum=0.0, maximum=0.99)
    x, y = sk.make_circles(_samples(spec, 500), noise=_noise(spec, 0.05), factor=factor,
                           random_state=seed)
    return _classes("circles", x, y, seed, 2, ["outer", "inner"])


register(DatasetEntry(
    "circles", "A small circle inside a large one (scikit-learn make_circles).",
    "arrays", _circles, _points,
    {"n_samples": "number of points (default 500)", "noise": "Gaussian noise (default 0.05)",
     "factor": "inner radius / outer radius (default 0.5)"},
    facts=lambda spec: class_facts(_points(spec), 2),
))


def _spirals(spec: dict[str, Any], seed: int) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    k = option(spec, "classes", 2, int, minimum=2, maximum=10)
    turns = option(spec, "turns", 1.5, float, minimum=0.1)
    per_class = max(2, _samples(spec, 600) // k)
    radius = np.linspace(0.05, 1.0, per_class)
    xs, ys = [], []
    for c in range(k):
        angle = 2 * np.pi * (c / k + turns * radius)
        arm = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        xs.append(arm + rng.normal(0.0, _noise(spec, 0.02), arm.shape))
        ys.append(np.full(per_class, c))
    return _classes("spirals", np.concatenate(xs), np.concatenate(ys), seed, k)


register(DatasetEntry(
    "spirals", "K interleaved spiral arms in the unit disc, one class per arm.",
    "arrays", _spirals, _points,
    {"n_samples": "total number of points (default 600)", "classes": "number of arms (default 2)",
     "turns": "turns of each arm (default 1.5)", "noise": "Gaussian jitter (default 0.02)"},
    facts=lambda spec: class_facts(_points(spec), option(spec, "classes", 2, int, minimum=2, maximum=10)),
))


# -- blobs (for the perceptron) ------------------------------------------------------


def _blobs(spec: dict[str, Any], seed: int) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    n = _samples(spec, 200)
    margin = option(spec, "margin", 0.5, float, minimum=0.0)
    y = rng.integers(0, 2, n)
    centres = np.where(y[:, None] == 1, 1.5, -1.5)
    x = centres + rng.normal(0.0, _noise(spec, 0.7), (n, 2))
    # The perceptron convergence theorem needs a separating line, so points on the wrong
    # side of the margin around x1 + x2 = 0 are mirrored across it: separable for any seed.
    normal = np.array([1.0, 1.0]) / np.sqrt(2.0)
    sign = np.where(y == 1, 1.0, -1.0)
    distance = sign * (x @ normal)
    short = np.minimum(distance - margin, 0.0)
    x = x - 2.0 * (short * sign)[:, None] * normal
    return _classes("blobs", x, y, seed, 2, None, separating_normal=normal.tolist(),
                    margin=margin)


register(DatasetEntry(
    "blobs", "Two Gaussian blobs, guaranteed linearly separable with a margin (for the "
    "perceptron).", "arrays", _blobs, _points,
    {"n_samples": "number of points (default 200)", "noise": "spread of each blob (default 0.7)",
     "margin": "distance kept clear on each side of the line x1 + x2 = 0 (default 0.5)"},
    facts=lambda spec: class_facts(_points(spec), 2),
))


# -- ring of Gaussians (for a GAN) ------------------------------------------------------


def _ring(spec: dict[str, Any], seed: int) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    n = _samples(spec, 2000)
    modes = option(spec, "modes", 8, int, minimum=1)
    radius = option(spec, "radius", 2.0, float, minimum=0.0)
    mode = rng.integers(0, modes, n)
    angle = 2 * np.pi * mode / modes
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centres + rng.normal(0.0, _noise(spec, 0.05), (n, 2))
    return _classes("ring", x, mode, seed, modes, None, modes=modes, radius=radius)


register(DatasetEntry(
    "ring", "Gaussians evenly spaced on a circle: the classic GAN mode-collapse test. "
    "y is the mode each point came from.", "arrays", _ring, _points,
    {"n_samples": "number of points (default 2000)", "modes": "number of Gaussians (default 8)",
     "radius": "radius of the ring (default 2)", "noise": "spread of each mode (default 0.05)"},
    facts=lambda spec: class_facts(_points(spec), option(spec, "modes", 8, int, minimum=1)),
))


# -- sine (time series) ---------------------------------------------------------------


def _sine_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    return {"x": (None, option(spec, "seq_len", 20, int, minimum=1), 1)}


def _sine_facts(spec: dict[str, Any]) -> DataFacts:
    shapes = _sine_shapes(spec)
    per_step = option(spec, "mode", "next", str, choices=("next", "sequence")) == "sequence"
    return DataFacts("arrays", shapes, None, shapes["x"] if per_step else (None, 1))


def _frequency(spec: dict[str, Any]) -> tuple[float, float]:
    value = spec.get("frequency", 0.05)
    pair = value if isinstance(value, list | tuple) else [value, value]
    if (len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int | float) for v in pair)
            or not 0 < pair[0] <= pair[1]):
        raise DatasetError("training.dataset.frequency: expected a positive number of cycles "
                           f"per step or a range [low, high], got {value!r}")
    return float(pair[0]), float(pair[1])


def _sine(spec: dict[str, Any], seed: int) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    n = _samples(spec, 1000)
    steps = option(spec, "seq_len", 20, int, minimum=1)
    mode = option(spec, "mode", "next", str, choices=("next", "sequence"))
    low, high = _frequency(spec)
    # Random phase and (optionally) random frequency per window: the net must infer
    # them from the window, not memorise one curve.
    frequency = rng.uniform(low, high, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    t = np.arange(steps + 1)[None, :]
    series = np.sin(2 * np.pi * frequency * t + phase)
    series = series + rng.normal(0.0, _noise(spec, 0.0), series.shape)
    series = series.astype(np.float32)[..., None]  # (S, T + 1, 1)
    x = series[:, :steps]
    y = series[:, 1:] if mode == "sequence" else series[:, steps]
    return ArrayDataset("sine", x, y, split_indices(n, seed), None, None,
                        {"mode": mode, "seq_len": steps})


register(DatasetEntry(
    "sine", "Windows of a sine wave with random phase: predict the next value "
    "(y (S, 1)), or with mode \"sequence\" the next value at every step (y (S, T, 1)).",
    "arrays", _sine, _sine_shapes,
    {"n_samples": "number of windows (default 1000)", "seq_len": "window length (default 20)",
     "mode": "\"next\" (default) or \"sequence\" (per-step targets)",
     "noise": "Gaussian noise on the series (default 0)",
     "frequency": "cycles per step (default 0.05), or [low, high]: each window draws one"},
    facts=_sine_facts,
))


# -- remember (long memory, LSTM vs RNN) --------------------------------------------------


def _remember_shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    steps = option(spec, "seq_len", 40, int, minimum=2)
    return {"x": (None, steps, option(spec, "classes", 4, int, minimum=2) + 2)}


def _remember(spec: dict[str, Any], seed: int) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    n = _samples(spec, 1000)
    steps = option(spec, "seq_len", 40, int, minimum=2)
    k = option(spec, "classes", 4, int, minimum=2)
    distractors = option(spec, "distractors", True, bool)
    # Channels: k one-hot symbol channels, then a "store" flag (step 0) and a "recall"
    # flag (last step). Distractor symbols in between make a plain RNN forget the first
    # one over long sequences while gates (LSTM/GRU) keep it.
    x = np.zeros((n, steps, k + 2), dtype=np.float32)
    y = rng.integers(0, k, n)
    x[np.arange(n), 0, y] = 1.0
    x[:, 0, k] = 1.0
    x[:, -1, k + 1] = 1.0
    if distractors and steps > 2:
        middle = rng.integers(0, k, (n, steps - 2))
        rows, cols = np.meshgrid(np.arange(n), np.arange(1, steps - 1), indexing="ij")
        x[rows, cols, middle] = 1.0
    x += rng.normal(0.0, _noise(spec, 0.0), x.shape).astype(np.float32)
    return _classes("remember", x, y, seed, k, None, seq_len=steps)


register(DatasetEntry(
    "remember", "Long-memory recall: a symbol at step 0, distractors after, and the class is "
    "that first symbol, asked for at the last step. Plain RNNs fail as seq_len grows; "
    "LSTMs do not.", "arrays", _remember, _remember_shapes,
    {"n_samples": "number of sequences (default 1000)", "seq_len": "sequence length (default 40)",
     "classes": "number of symbols (default 4); features = classes + 2",
     "distractors": "random symbols between first and last step (default true)",
     "noise": "Gaussian noise on every feature (default 0)"},
    facts=lambda spec: class_facts(_remember_shapes(spec), option(spec, "classes", 4, int, minimum=2)),
))
