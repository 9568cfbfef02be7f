"""Token tasks for sequence models: each needs a different reach across the sequence.

`copy` needs nothing beyond the current token (or, with a delay, a short memory);
`reverse` needs the far end of the sequence; `sort` needs all of it; `majority` needs
a count over the whole sequence and one answer, where attention shines. Tokens are
int64 in [0, vocab) for an `Embedding`; per-step targets are int64 (S, T).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.base import ArrayDataset, DataFacts, DatasetEntry, class_facts, option, register
from engine.data.splits import split_indices

COMMON_OPTIONS = {
    "n_samples": "number of sequences (default 2000)",
    "seq_len": "tokens per sequence (default 8)",
    "vocab": "vocabulary size (default 10); tokens are 0 .. vocab-1",
}


def _sizes(spec: dict[str, Any]) -> tuple[int, int, int]:
    return (option(spec, "n_samples", 2000, int, minimum=4),
            option(spec, "seq_len", 8, int, minimum=1),
            option(spec, "vocab", 10, int, minimum=2))


def _shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    return {"x": (None, _sizes(spec)[1])}


def _token_facts(spec: dict[str, Any]) -> DataFacts:
    """Per-step targets: one token id per input position, out of `vocab`."""
    shapes = _shapes(spec)
    return DataFacts("arrays", shapes, _sizes(spec)[2], shapes["x"])


def _dataset(name: str, x: np.ndarray, y: np.ndarray, seed: int, vocab: int,
             stratify: bool = False, **info: Any) -> ArrayDataset:
    splits = split_indices(len(x), seed, y if stratify else None)
    info = {"vocab": vocab, "seq_len": x.shape[1], **info}
    return ArrayDataset(name, x.astype(np.int64), y.astype(np.int64), splits, vocab,
                        [str(t) for t in range(vocab)], info)


def _copy(spec: dict[str, Any], seed: int) -> ArrayDataset:
    n, steps, vocab = _sizes(spec)
    delay = option(spec, "delay", 0, int, minimum=0, maximum=max(0, steps - 1))
    rng = np.random.default_rng(seed)
    if delay == 0:
        x = rng.integers(0, vocab, (n, steps))
        return _dataset("copy", x, x.copy(), seed, vocab, delay=0)
    # With a delay, token 0 is the blank the targets start with, so it is never an input.
    x = rng.integers(1, vocab, (n, steps))
    y = np.zeros_like(x)
    y[:, delay:] = x[:, :steps - delay]
    return _dataset("copy", x, y, seed, vocab, delay=delay, blank=0)


def _reverse(spec: dict[str, Any], seed: int) -> ArrayDataset:
    n, steps, vocab = _sizes(spec)
    x = np.random.default_rng(seed).integers(0, vocab, (n, steps))
    return _dataset("reverse", x, x[:, ::-1].copy(), seed, vocab)


def _sort(spec: dict[str, Any], seed: int) -> ArrayDataset:
    n, steps, vocab = _sizes(spec)
    x = np.random.default_rng(seed).integers(0, vocab, (n, steps))
    return _dataset("sort", x, np.sort(x, axis=1), seed, vocab)


def _majority(spec: dict[str, Any], seed: int) -> ArrayDataset:
    n, steps, vocab = _sizes(spec)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab, (n, steps))
    # Break ties so every sequence has exactly one most frequent token: one position of a
    # rival is rewritten to the winner (with seq_len 1 there is never a tie).
    counts = np.stack([np.bincount(row, minlength=vocab) for row in x])
    for i in np.flatnonzero((counts == counts.max(axis=1, keepdims=True)).sum(axis=1) > 1):
        tied = np.flatnonzero(counts[i] == counts[i].max())
        winner, rival = rng.choice(tied, 2, replace=False)
        x[i, rng.choice(np.flatnonzero(x[i] == rival))] = winner
    y = np.array([np.bincount(row, minlength=vocab).argmax() for row in x])
    return _dataset("majority", x, y, seed, vocab, stratify=True)


register(DatasetEntry(
    "copy", "Copy the input tokens (per-step targets); with delay d, output token t is input "
    "token t-d and 0 is the blank before it.", "arrays", _copy, _shapes,
    {**COMMON_OPTIONS, "delay": "steps the output lags the input (default 0)"},
    facts=_token_facts,
))
register(DatasetEntry(
    "reverse", "Output the input sequence backwards (per-step targets).",
    "arrays", _reverse, _shapes, dict(COMMON_OPTIONS),
    facts=_token_facts,
))
register(DatasetEntry(
    "sort", "Output the input tokens in ascending order (per-step targets).",
    "arrays", _sort, _shapes, dict(COMMON_OPTIONS),
    facts=_token_facts,
))
register(DatasetEntry(
    "majority", "Classify a sequence by its most frequent token (one class per sequence, "
    "ties removed): a whole-sequence count, natural for attention.",
    "arrays", _majority, _shapes, dict(COMMON_OPTIONS),
    facts=lambda spec: class_facts(_shapes(spec), _sizes(spec)[2]),
))
