"""Tabular Q-learning (Watkins 1989), with the Q-table living in a network's weight.

On one-hot states a bias-free Linear computes exactly a table lookup:
Linear(onehot(s)) = W[:, s], so W (actions × states) is the Q-table, the
canvas shows the same network a DQN would use, and export gives a working
policy. But the table is learned with the tabular rule itself,
Q[s,a] += α (r + γ max Q[s',·] − Q[s,a]), written into the weight: the point
of this preset is the classic algorithm, not gradient descent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import torch

from engine.errors import NetCanvasError
from engine.training.episodic import EpisodicTrainer, rng_state, set_rng_state
from engine.training.events import Episode, Event
from engine.training.feeding import input_sources
from engine.training.rl import greedy_evaluation
from engine.training.settings import chain_blocks, setting

EXPECTED = ("network 'main' must be Input (one-hot state) → Linear(out_features=<actions>, "
            "bias=false) → Output: the Linear's weight is the Q-table")


class QLearningTrainer(EpisodicTrainer):
    """Epsilon-greedy episodes, one tabular update per transition, greedy evaluation."""

    task = "q_learning"
    autocast_applies = False  # its update is a rule on the weights: precision stays fp32
    default_episodes = 10_000

    def setup(self) -> None:
        self.data = data = self.load_environment()
        if data.num_states is None:
            raise NetCanvasError(
                f"tabular Q-learning needs discrete states (e.g. FrozenLake-v1); '{data.name}' has "
                "continuous observations: use the dqn task for it")
        linear_id = self._check_architecture()
        self.model = self.build("main")
        if input_sources(self.doc, "main", self.model) != ["x"]:
            raise NetCanvasError(f"{EXPECTED}; the Input's source must be 'x'")
        self.weight = getattr(self.model, linear_id).weight  # (A, S): Q[s, a] = weight[a, s]
        if tuple(self.weight.shape) != (data.num_actions, data.num_states):
            raise NetCanvasError(
                f"{EXPECTED}; '{data.name}' has {data.num_states} states and {data.num_actions} "
                f"actions, so the weight must be {data.num_actions}×{data.num_states}, not "
                f"{'×'.join(map(str, self.weight.shape))}")
        self.read_settings()
        with torch.no_grad():
            if not self.options.resume and self.init == "zeros":
                self.weight.zero_()
        # On the CPU this array shares the weight's memory, so updates land in it directly.
        self.table = self.weight.detach().cpu().numpy()
        self.shared = self.weight.device.type == "cpu"
        self.rng = np.random.default_rng(self.seed)
        self.env = self.make_env()
        self.successes: deque[float] = deque(maxlen=100)  # the recent success rate's window
        self.block: list[tuple[float, int, float]] = []

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "rng": rng_state(self.rng),
                "successes": list(self.successes)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        if "rng" in state:
            set_rng_state(self.rng, state["rng"])
        self.successes.extend(float(v) for v in state.get("successes", []))

    def _check_architecture(self) -> str:
        chain = chain_blocks(self.doc, "main")
        blocks = [block for _, block in chain]
        if blocks != ["Input", "Linear", "Output"]:
            found = " → ".join(blocks) if blocks else "a branching graph"
            raise NetCanvasError(f"{EXPECTED}; found {found}")
        linear = self.doc.network("main").nodes[chain[1][0]]
        if linear.resolved_params()["bias"]:
            raise NetCanvasError(f"{EXPECTED}; the Linear '{linear.id}' has a bias: turn it off")
        return linear.id

    def read_settings(self) -> None:
        def get(key, *computed):  # type, range and default are the schema's (a computed default aside)
            return setting(self.training, "q_learning", key, *computed)

        self.alpha = get("alpha")
        self.alpha_end = get("alpha_end", self.alpha)
        self.gamma = get("gamma")
        self.epsilon_start = get("epsilon_start")
        self.epsilon_end = get("epsilon_end")
        self.epsilon_decay = get("epsilon_decay")
        self.eval_episodes = get("eval_episodes")
        self.report_every = get("report_every", max(1, self.total_epochs // 1000))
        self.init = get("init")

    # ---- schedules and acting ---------------------------------------------------

    def epsilon(self, episode: int) -> float:
        """Multiplied by epsilon_decay each episode, down to epsilon_end."""
        return max(self.epsilon_end, self.epsilon_start * self.epsilon_decay**episode)

    def step_size(self, episode: int) -> float:
        """α, falling linearly to alpha_end over the run (constant unless alpha_end is set)."""
        fraction = min(episode / max(self.total_epochs - 1, 1), 1.0)
        return self.alpha + fraction * (self.alpha_end - self.alpha)

    def act(self, state: int, epsilon: float) -> int:
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.data.num_actions))
        values = self.table[:, state]  # (A,)
        best = np.flatnonzero(values == values.max())
        return int(best[0] if len(best) == 1 else self.rng.choice(best))  # fair ties

    # ---- the loop --------------------------------------------------------------

    def episode_ended(self, episode: int, stats: dict[str, Any]) -> Iterator[Event]:
        """Episodes are reported in blocks of report_every, so long runs stay light."""
        self.block.append((stats["reward"], stats["length"], stats["td"]))
        self.successes.append(float(stats["reward"] > 0))
        if len(self.block) == self.report_every or episode + 1 == self.total_epochs:
            yield self.report(self.block)
            self.block = []
            if (activations := self.pop_activations()) is not None:
                yield activations

    def play(self, episode: int, seed: int | None) -> Generator[Event, None, dict[str, Any]]:
        """One episode of updates: its reward, length and mean |TD error|; it yields no events."""
        yield from ()
        return self.learn_episode(episode, seed)

    def learn_episode(self, episode: int, seed: int | None) -> dict[str, Any]:
        state, _ = self.env.reset(seed=seed)
        epsilon, alpha, table = self.epsilon(episode), self.step_size(episode), self.table
        reward_sum, length, td_sum, done = 0.0, 0, 0.0, False
        while not done:
            action = self.act(int(state), epsilon)
            following, reward, terminated, truncated, _ = self.env.step(action)
            # A time limit is not an end of the task: only `terminated` stops bootstrapping.
            target = reward if terminated else reward + self.gamma * table[:, following].max()
            error = target - table[action, state]
            table[action, state] += alpha * error
            td_sum += abs(error)
            reward_sum, length, state = reward_sum + float(reward), length + 1, following
            done = terminated or truncated
        return {"reward": reward_sum, "length": length, "td": td_sum / max(length, 1)}

    def report(self, block: list[tuple[float, int, float]]) -> Episode:
        """One Episode event for a block of episodes (their means), so long runs stay light."""
        rewards, lengths, errors = np.array(block, dtype=np.float64).T  # (3, episodes)
        loss = self.check_loss(torch.tensor(float(errors.mean())))
        self.sync()
        self.remember_good_state()
        with torch.no_grad():  # the table as the network sees it, for watched nodes
            self.forward(self.model, torch.eye(self.data.num_states, device=self.weight.device)[:1])
        self.record("episode_reward", float(rewards.mean()))
        self.record("episode_length", float(lengths.mean()))
        return Episode(self.epoch, float(rewards.mean()), int(round(lengths.mean())),
                       self.epsilon(self.epoch - 1), self.progress(self.epoch), loss)

    def sync(self) -> None:
        """Write the table into the weight where they do not share memory (a GPU)."""
        if not self.shared:
            with torch.no_grad():
                self.weight.copy_(torch.from_numpy(self.table))

    # ---- results ------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        self.sync()
        greedy = self.table.argmax(axis=0)  # (S,) best action per state
        # Its own environment: the training one's random state goes on untouched (resume).
        result = greedy_evaluation(self.make_env(), lambda s: int(greedy[int(s)]), self.eval_episodes,
                                   self.seed)
        return {**self.summary(), **result, "policy": greedy.tolist(),
                "value": self.table.max(axis=0).round(4).tolist()}

    def summary(self) -> dict[str, Any]:
        self.sync()
        recent = list(self.successes)
        return {"episodes": self.epoch,
                "train_success_rate_recent": float(np.mean(recent)) if recent else None}
