"""The episodic loop the reinforcement-learning trainers share: episodes instead of epochs.

`EpisodicTrainer` owns what DQN and tabular Q-learning have in common: the
episode loop (pause/stop, the good-state snapshot, checkpoints every N
episodes), the environments' lifetime (made through `make_env`, closed
however the run ends), the evaluation cadence (a greedy check every
`eval_every` episodes, or as soon as the recent rewards reach the threshold)
and what a resumed run needs to continue exactly (the environments' random
state). The base's `epoch` counts episodes, so resume, progress and
checkpoints work unchanged. A paradigm supplies `play` (one episode),
`episode_ended` (what it records and reports), `evaluate_and_check`,
`finish` and `summary`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np

from engine.training.base import Trainer
from engine.training.events import Event
from engine.training.rl import load_environment, total_episodes


class EpisodicTrainer(Trainer):
    """Episodes of a gymnasium environment; see the module docstring for the hooks."""

    default_episodes = 500
    eval_every = 0  # a greedy check every N episodes (0: only when the rewards look solved)
    solve_window = 10  # episodes whose mean reward is compared with the threshold
    threshold: float | None = None

    def __init__(self, doc, options=None) -> None:
        super().__init__(doc, options)
        self.environments: list[Any] = []
        self.recent: deque[float] = deque(maxlen=self.solve_window)
        self.next_eval_episode = 0
        self._env_state: dict[str, Any] | None = None

    @property
    def total_epochs(self) -> int:
        return total_episodes(self.training, self.task, self.options.epochs,
                              self.default_episodes)

    def load_environment(self):
        return load_environment(self.training, self.seed, self.task)

    def make_env(self) -> Any:
        """A new environment, closed by `teardown` however the run ends."""
        env = self.data.make()
        self.environments.append(env)
        return env

    def teardown(self) -> None:
        while self.environments:
            self.environments.pop().close()

    # ---- the loop --------------------------------------------------------------

    def loop(self) -> Iterator[Event]:
        self.recent = deque(self.recent, maxlen=self.solve_window)
        self.remember_good_state()
        start = self.epoch
        for episode in range(start, self.total_epochs):
            self.checkpoint_controls()
            stats = yield from self.play(episode, self._episode_seed(episode, start))
            self.epoch = episode + 1
            self.recent.append(stats["reward"])
            yield from self.episode_ended(episode, stats)
            yield from self.epoch_ended(episode + 1)  # checkpoints count episodes
            if self.time_to_evaluate(episode + 1) and self.evaluate_and_check(episode + 1):
                return  # solved: the greedy policy reaches the threshold

    def _episode_seed(self, episode: int, start: int) -> int | None:
        """Seed the environment once per run; a resumed run restores its random state instead."""
        if episode != start:
            return None
        if self._env_state is not None:
            set_rng_state(self.env.unwrapped.np_random, self._env_state)
            return None
        return self.seed + episode

    def time_to_evaluate(self, episodes: int) -> bool:
        """Greedy checks cost time; run one when training looks solved, or every eval_every."""
        if episodes < self.next_eval_episode:
            return False
        looks_solved = (self.threshold is not None and len(self.recent) == self.solve_window
                        and float(np.mean(self.recent)) >= self.threshold)
        return looks_solved or bool(self.eval_every and episodes % self.eval_every == 0)

    def final_metrics(self) -> dict[str, Any]:
        """Stopping is prompt: no evaluation then, the training record only."""
        return self.summary() if self.stopped else self.finish()

    def extra_state(self) -> dict[str, Any]:
        return {"env_rng": rng_state(self.env.unwrapped.np_random),
                "recent": list(self.recent), "next_eval_episode": self.next_eval_episode}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "env_rng" in state:
            self._env_state = state["env_rng"]
        self.recent.extend(float(r) for r in state.get("recent", []))
        self.next_eval_episode = int(state.get("next_eval_episode", 0))

    # ---- hooks a paradigm supplies -------------------------------------------------

    def play(self, episode: int, seed: int | None) -> Generator[Event, None, dict[str, Any]]:
        """One training episode; may yield Step events; returns at least {"reward": r}."""
        raise NotImplementedError

    def episode_ended(self, episode: int, stats: dict[str, Any]) -> Iterator[Event]:
        """Record and report the episode (an Episode event, or one per block)."""
        raise NotImplementedError

    def evaluate_and_check(self, episodes: int) -> bool:
        """A greedy check during training; True when it says the task is solved."""
        return False

    def finish(self) -> dict[str, Any]:
        """The final evaluation of a run that was not stopped."""
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """The training record alone."""
        return {"episodes": self.epoch}


def rng_state(generator: np.random.Generator) -> dict[str, Any]:
    """A numpy generator's state as JSON-safe data (its 128-bit integers as strings)."""
    return _stringify(generator.bit_generator.state)


def set_rng_state(generator: np.random.Generator, state: dict[str, Any]) -> None:
    generator.bit_generator.state = _numbers(state)


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return {"int": str(int(value))}
    if isinstance(value, np.ndarray):
        return {"ints": [str(int(v)) for v in value.tolist()], "dtype": str(value.dtype)}
    return value


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"int"}:
            return int(value["int"])
        if set(value) == {"ints", "dtype"}:
            return np.array([int(v) for v in value["ints"]], dtype=value["dtype"])
        return {k: _numbers(v) for k, v in value.items()}
    return value
