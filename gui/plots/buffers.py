"""Bounded histories for live plots: a run of any length keeps a fixed memory ceiling.

A ring buffer would forget the start of training, which is the part of a loss
curve people look at first. `Series` keeps the whole run instead, halving its
resolution each time it fills: past `cap` points it keeps every 2nd, then every
4th, ... point, so memory stays under `cap` points and the curve keeps its shape.
Smoothed values are computed on every point before decimation, so they are exact.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# 2**16 points: 1 MiB per series, more than a plot several screens wide can show. A run of
# any length reaches this within minutes and then stays flat (a million-step run included).
DEFAULT_CAP = 65_536


class Series:
    """x/y pairs appended in x order, at most `cap` of them kept (see module docstring)."""

    def __init__(self, cap: int = DEFAULT_CAP, initial: int = 1024) -> None:
        self.cap = max(2, cap - cap % 2)
        # One slot more than is kept: `tail` writes the newest point there without copying.
        self._x = np.empty(min(initial, self.cap) + 1)
        self._y = np.empty(min(initial, self.cap) + 1)
        self.n = 0
        self.stride = 1  # keep one incoming point in `stride`
        self.seen = 0  # points offered so far
        self.last: tuple[float, float] | None = None  # the newest point, kept or not

    def __len__(self) -> int:
        return self.n

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    @property
    def nbytes(self) -> int:
        return self._x.nbytes + self._y.nbytes

    def clear(self) -> None:
        self.__init__(self.cap)

    def append(self, x: float, y: float) -> None:
        self.last = (x, y)
        keep = self.seen % self.stride == 0
        self.seen += 1
        if keep:
            self._room(1)
            self._x[self.n] = x
            self._y[self.n] = y
            self.n += 1

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Many points at once (loading a history, tests): same result as appending each."""
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        if len(xs) == 0:
            return
        self.last = (float(xs[-1]), float(ys[-1]))
        start = 0
        while start < len(xs):
            room = self._room(1)  # may double the stride, so it comes first
            offset = (-self.seen) % self.stride  # the first index this stride keeps
            stop = min(len(xs), start + offset + room * self.stride)
            picked = slice(start + offset, stop, self.stride)
            chunk_x, chunk_y = xs[picked], ys[picked]
            self._x[self.n:self.n + len(chunk_x)] = chunk_x
            self._y[self.n:self.n + len(chunk_y)] = chunk_y
            self.n += len(chunk_x)
            self.seen += stop - start
            start = stop

    def tail(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept points plus the newest one, so a decimated curve still ends at 'now'."""
        if self.last is None or (self.n and self._x[self.n - 1] == self.last[0]):
            return self.x, self.y
        self._x[self.n], self._y[self.n] = self.last
        return self._x[: self.n + 1], self._y[: self.n + 1]

    def thinned(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """At most `limit` points, evenly taken: for faded copies of previous runs."""
        step = max(1, -(-self.n // limit))
        return self.x[::step].copy(), self.y[::step].copy()

    def _room(self, wanted: int) -> int:
        """Grow or decimate until `wanted` slots are free; returns how many are free."""
        capacity = len(self._x) - 1
        if self.n + wanted > capacity:
            if capacity < self.cap:
                size = min(self.cap, max(capacity * 2, self.n + wanted)) + 1
                self._x = np.resize(self._x, size)
                self._y = np.resize(self._y, size)
            else:
                half = self.n // 2 + self.n % 2
                self._x[:half] = self._x[: self.n : 2]
                self._y[:half] = self._y[: self.n : 2]
                self.n = half
                self.stride *= 2
        return len(self._x) - 1 - self.n


class Ema:
    """Exponential moving average with bias correction (as TensorBoard smooths curves)."""

    def __init__(self, smoothing: float = 0.95) -> None:
        self.smoothing = smoothing
        self.value = 0.0
        self.count = 0

    def reset(self) -> None:
        self.value, self.count = 0.0, 0

    def update(self, y: float) -> float:
        a = self.smoothing
        self.value = a * self.value + (1 - a) * y
        self.count += 1
        return self.value / (1 - a**self.count)

    def update_many(self, ys: np.ndarray) -> np.ndarray:
        """Vectorised `update` over an array (for bulk loads of a million points)."""
        from scipy.signal import lfilter

        a = self.smoothing
        ys = np.asarray(ys, dtype=np.float64)
        raw, _ = lfilter([1 - a], [1, -a], ys, zi=[a * self.value])
        counts = self.count + np.arange(1, len(ys) + 1)
        self.value = float(raw[-1]) if len(ys) else self.value
        self.count += len(ys)
        return raw / (1 - a**counts)


class MovingMean:
    """Mean of the last `window` values, in O(1) per value."""

    def __init__(self, window: int = 20) -> None:
        self.window = window
        self._values: deque[float] = deque(maxlen=window)
        self._sum = 0.0

    def reset(self) -> None:
        self._values.clear()
        self._sum = 0.0

    def update(self, y: float) -> float:
        if len(self._values) == self.window:
            self._sum -= self._values[0]
        self._values.append(y)
        self._sum += y
        return self._sum / len(self._values)


def nearest_index(xs: np.ndarray, x: float) -> int | None:
    """Index of the value of sorted `xs` closest to x (hover readouts), None if empty."""
    if len(xs) == 0:
        return None
    i = int(np.clip(np.searchsorted(xs, x), 1, len(xs) - 1)) if len(xs) > 1 else 0
    if i and abs(xs[i - 1] - x) <= abs(xs[i] - x):
        i -= 1
    return i
