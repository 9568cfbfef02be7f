"""Bounded histories: a run of any length records in fixed memory.

A trainer records per epoch, per episode or per block of steps; a graph
network does one step per epoch and a Q-learning run a million episodes, so
an unbounded list grows with the run. `Trace` keeps the most recent points at
full resolution (what a person watching the run looks at) and a downsampled
past that halves its resolution each time it fills (the shape of the whole
curve, as the plots keep it). Memory stays under `recent + past` entries.
A run shorter than that records everything, in order, exactly as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

RECENT = 2_000
PAST = 2_000


class Trace:
    """One recorded quantity: every entry of the last `recent`, one in `stride` before."""

    def __init__(self, recent: int = RECENT, past: int = PAST) -> None:
        self.recent: deque[Any] = deque()
        self.recent_cap = max(1, recent)
        self.past: list[Any] = []
        self.past_cap = max(2, past)
        self.stride = 1  # one entry in `stride` leaving `recent` is kept in `past`
        self.retired = 0  # entries that have left `recent` so far

    def __len__(self) -> int:
        return len(self.past) + len(self.recent)

    def append(self, value: Any) -> None:
        self.recent.append(value)
        if len(self.recent) > self.recent_cap:
            self._retire(self.recent.popleft())

    def _retire(self, value: Any) -> None:
        if self.retired % self.stride == 0:
            if len(self.past) >= self.past_cap:
                self.past = self.past[::2]
                self.stride *= 2
            if self.retired % self.stride == 0:
                self.past.append(value)
        self.retired += 1

    def values(self) -> list[Any]:
        """The kept entries, oldest first, as a plain list (what a bundle stores)."""
        return [*self.past, *self.recent]


class History:
    """Named traces, published as `{name: [entries]}` in `metrics["history"]`."""

    def __init__(self, recent: int = RECENT, past: int = PAST) -> None:
        self.recent, self.past = recent, past
        self.traces: dict[str, Trace] = {}

    def record(self, key: str, value: Any) -> None:
        trace = self.traces.get(key)
        if trace is None:
            trace = self.traces[key] = Trace(self.recent, self.past)
        trace.append(value)

    def extend(self, key: str, values: Iterable[Any]) -> None:
        for value in values:
            self.record(key, value)

    def as_dict(self) -> dict[str, list[Any]]:
        return {key: trace.values() for key, trace in self.traces.items()}

    @classmethod
    def from_dict(cls, saved: dict[str, Iterable[Any]] | None, recent: int = RECENT,
                  past: int = PAST) -> History:
        """A history continued from a bundle's (already bounded) lists."""
        history = cls(recent, past)
        for key, values in (saved or {}).items():
            if isinstance(values, list):
                history.extend(key, values)
        return history

    def __getitem__(self, key: str) -> list[Any]:
        return self.traces[key].values()

    def __contains__(self, key: str) -> bool:
        return key in self.traces
