"""Deep Q-learning (Mnih et al. 2015) on a gymnasium environment with discrete actions.

The network `q_network` maps an observation to one value per action. What makes
it learn stably are the two classic devices: a replay buffer (updates on
decorrelated past transitions) and a target network (a lagging copy that the
bootstrapped targets come from). Double DQN (van Hasselt et al.) picks the next
action with the online network and values it with the target one, which curbs
the max operator's over-estimation. Only `terminated` stops bootstrapping: a
time-limit truncation is not a real end of the task.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import NetCanvasError
from engine.training.episodic import EpisodicTrainer, rng_state, set_rng_state
from engine.training.events import Episode, Event, Step
from engine.training.feeding import input_sources
from engine.training.rl import (
    CHECK_SEED_OFFSET,
    EVAL_SEED_OFFSET,
    check_action_width,
    encoder,
    greedy_evaluation,
)
from engine.training.settings import section, setting, value
from engine.training.setup import make_optimizer


class ReplayBuffer:
    """Fixed-size ring of transitions in numpy arrays; sampling is uniform."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...]) -> None:
        self.capacity = capacity
        self.states = np.zeros((capacity, *obs_shape), dtype=np.float32)
        self.next_states = np.zeros((capacity, *obs_shape), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminal = np.zeros(capacity, dtype=np.float32)
        self.size = 0
        self.cursor = 0

    def add(self, state: np.ndarray, action: int, reward: float, next_state: np.ndarray,
            terminal: bool) -> None:
        i = self.cursor
        self.states[i], self.actions[i], self.rewards[i] = state, action, reward
        self.next_states[i], self.terminal[i] = next_state, float(terminal)
        self.cursor = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def state(self) -> dict[str, Any]:
        """The filled part as tensors (a bundle stores them in safetensors, never pickled)."""
        n = self.size
        arrays = {"states": self.states, "next_states": self.next_states, "actions": self.actions,
                  "rewards": self.rewards, "terminal": self.terminal}
        return {"size": n, "cursor": self.cursor,
                **{k: torch.from_numpy(a[:n].copy()) for k, a in arrays.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        n = int(state["size"])
        if n > self.capacity:
            raise NetCanvasError(f"the saved replay buffer holds {n} transitions but "
                                 f"training.dqn.buffer_size is {self.capacity}")
        for key in ("states", "next_states", "actions", "rewards", "terminal"):
            getattr(self, key)[:n] = np.asarray(state[key]).reshape(getattr(self, key)[:n].shape)
        self.size, self.cursor = n, int(state["cursor"]) % self.capacity

    def sample(self, count: int, rng: np.random.Generator, device: torch.device,
               ) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.size, count)
        arrays = (self.states[idx], self.actions[idx], self.rewards[idx], self.next_states[idx],
                  self.terminal[idx])
        return tuple(torch.from_numpy(a).to(device) for a in arrays)


class DqnTrainer(EpisodicTrainer):
    """Epsilon-greedy acting, replay, (double) DQN targets, hard or soft target updates."""

    task = "dqn"
    default_episodes = 500

    def setup(self) -> None:
        self.data = data = self.load_environment()
        self.q = self.build("q_network")
        if input_sources(self.doc, "q_network", self.q) != ["x"]:
            raise NetCanvasError("network 'q_network' must have exactly one Input, with source 'x' "
                                 "(the observation)")
        self.encode = encoder(data)
        with torch.no_grad():
            probe = torch.zeros((1, *data.observation_shape), device=self.device)
            check_action_width(self.forward(self.q.eval(), probe).shape[-1], data, "q_network")
            self.q.train()
        # The lagging copy. NOTE(issue 14): once prepare_model wraps models (DDP, compile),
        # copy the unwrapped module here.
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        # Batch statistics would mix states and next states if they shared one pass.
        self.fuse = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.q.modules())
        self.modal = any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd))
                         for m in self.q.modules())
        self.read_settings()
        self.optimizer = make_optimizer(self.training.get("optimizer"), self.q.parameters())
        self.optimizers = {"q_network": self.optimizer}
        self.buffer = ReplayBuffer(self.buffer_size, data.observation_shape)
        self.rng = np.random.default_rng(self.seed)
        self.env = self.make_env()
        self.eval_env = self.make_env()
        self.env_steps = 0
        self.best: dict[str, Any] | None = None
        self.online: dict[str, torch.Tensor] | None = None  # training weights, when best replaced them
        self.pending: list[float] = []  # losses not yet reported in a Step event
        self.pending_since = time.perf_counter()

    def extra_state(self) -> dict[str, Any]:
        """Everything an uninterrupted run would still have: replay, target net, RNGs, counters."""
        best = self.best and {**self.best, "weights": _cpu(self.best["weights"])}
        return {**super().extra_state(), "buffer": self.buffer.state(),
                "target": _cpu(self.target.state_dict()), "env_steps": self.env_steps,
                "rng": rng_state(self.rng), "best": best, "pending": list(self.pending),
                "online": self.online}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        if "buffer" in state:
            self.buffer.load_state(state["buffer"])
        if "target" in state:
            self.target.load_state_dict(state["target"])
        if state.get("online"):
            self.q.load_state_dict(state["online"])
        if "rng" in state:
            set_rng_state(self.rng, state["rng"])
        self.env_steps = int(state.get("env_steps", self.doc.metrics.get("env_steps", 0)))
        self.best = state.get("best") or None
        self.pending = [float(v) for v in state.get("pending", [])]

    def read_settings(self) -> None:
        def get(key, *computed):  # type, range and default are the schema's (a computed default aside)
            return setting(self.training, "dqn", key, *computed)

        self.gamma = get("gamma")
        self.epsilon_start = get("epsilon_start")
        self.epsilon_end = get("epsilon_end")
        self.epsilon_decay_steps = get("epsilon_decay_steps")
        self.buffer_size = get("buffer_size")
        self.batch_size = get("batch_size", value(self.training, "batch_size"))  # default: the top-level one
        self.learning_starts = get("learning_starts")
        # Soft (Polyak) updates by default; naming only target_update asks for hard copies.
        own = section(self.training, "dqn")
        hard = "target_update" in own and "tau" not in own
        self.target_update = get("target_update")
        self.tau = None if hard else get("tau")
        self.train_every = get("train_every")
        self.gradient_steps = get("gradient_steps")
        self.double = get("double")
        named = self.training.get("loss")
        self.loss_fn = {"huber": nn.SmoothL1Loss(), "mse": nn.MSELoss()}[
            get("loss", named if named in ("huber", "mse") else "huber")]
        self.grad_clip = get("grad_clip")
        self.eval_episodes = get("eval_episodes")
        self.solve_window = get("solve_window")
        self.recent = deque(self.recent, maxlen=self.solve_window)
        self.eval_every = get("eval_every")
        self.threshold = get("reward_threshold", self.data.reward_threshold)
        self.log_every = get("log_every")
        self.keep_best = get("keep_best")

    # ---- acting --------------------------------------------------------------

    @property
    def epsilon(self) -> float:
        fraction = min(self.env_steps / self.epsilon_decay_steps, 1.0)
        return self.epsilon_start + fraction * (self.epsilon_end - self.epsilon_start)

    @torch.no_grad()
    def greedy(self, state: np.ndarray) -> int:
        was_training = self.q.training
        if self.modal:  # act without dropout noise, and with BatchNorm's running statistics
            self.q.eval()
        values = self.forward(self.q, torch.from_numpy(state).unsqueeze(0).to(self.device))
        if self.modal:
            self.q.train(was_training)
        return int(values.argmax(-1).item())

    def act(self, state: np.ndarray) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.data.num_actions))
        return self.greedy(state)

    # ---- learning ------------------------------------------------------------

    def learn(self) -> float:
        """One gradient step on a replayed batch; returns the loss."""
        states, actions, rewards, next_states, terminal = self.buffer.sample(
            self.batch_size, self.rng, self.device)  # (B, *obs), (B,), (B,), (B, *obs), (B,)
        n = len(states)
        if self.double and self.fuse:  # one online pass over both halves: call overhead dominates
            online = self.forward(self.q, torch.cat([states, next_states]))  # (2B, A)
            values, choice = online[:n], online[n:].detach().argmax(1, keepdim=True)
        else:
            values = self.forward(self.q, states)  # (B, A)
            if self.double:
                with torch.no_grad():
                    choice = self.forward(self.q, next_states).argmax(1, keepdim=True)
        values = values.gather(1, actions[:, None]).squeeze(1)  # (B,)
        with torch.no_grad():
            following = self.forward(self.target, next_states)  # (B, A)
            if self.double:
                best_next = following.gather(1, choice).squeeze(1)
            else:
                best_next = following.max(1).values
            targets = rewards + self.gamma * (1.0 - terminal) * best_next
        value = self.apply(self.loss_fn(values, targets), self.optimizer, self.grad_clip)
        self.step += 1
        self.update_target()
        return value

    @torch.no_grad()
    def update_target(self) -> None:
        if self.tau is not None:  # Polyak averaging every step
            for mine, online in zip(self.target.parameters(), self.q.parameters(), strict=True):
                mine.lerp_(online, self.tau)
        elif self.step % self.target_update == 0:
            self.target.load_state_dict(self.q.state_dict())

    # ---- the loop --------------------------------------------------------------

    def episode_ended(self, episode: int, stats: dict[str, Any]) -> Iterator[Event]:
        self.record("episode_reward", stats["reward"])
        self.record("episode_length", stats["length"])
        self.remember_good_state()
        yield Episode(episode + 1, stats["reward"], stats["length"], self.epsilon,
                      self.progress(episode + 1), stats["loss"])

    def play(self, episode: int, seed: int | None) -> Generator[Event, None, dict[str, Any]]:
        """One training episode; yields throttled Step events, returns its statistics."""
        obs, _ = self.env.reset(seed=seed)
        state, done = self.encode(obs), False
        reward_sum, length, losses = 0.0, 0, []
        while not done:
            self.checkpoint_controls()
            action = self.act(state)
            obs, reward, terminated, truncated, _ = self.env.step(action)
            next_state = self.encode(obs)
            self.buffer.add(state, action, float(reward), next_state, terminated)
            state, done = next_state, terminated or truncated
            reward_sum, length, self.env_steps = reward_sum + float(reward), length + 1, self.env_steps + 1
            if self.env_steps < max(self.learning_starts, 1) or self.env_steps % self.train_every:
                continue
            for _ in range(self.gradient_steps):
                losses.append(self.cpu_threads.first_step(self.learn) if self.cpu_threads.sizing
                              else self.learn())
            self.pending += losses[-self.gradient_steps:]
            if len(self.pending) >= self.log_every:
                yield self._step_event()
                if (activations := self.pop_activations()) is not None:
                    yield activations
        return {"reward": reward_sum, "length": length,
                "loss": float(np.mean(losses)) if losses else None}

    def _step_event(self) -> Step:
        """The mean loss of the gradient steps since the last event (one per log_every)."""
        now = time.perf_counter()
        rate = len(self.pending) * self.batch_size / max(now - self.pending_since, 1e-9)
        loss = float(np.mean(self.pending))
        self.pending, self.pending_since = [], now
        self.record("step_loss", loss)
        return Step(self.step, self.epoch + 1, loss, self.optimizer.param_groups[0]["lr"], rate,
                    self.progress(self.epoch))

    # ---- evaluation ------------------------------------------------------------

    def greedy_result(self, offset: int) -> dict[str, Any]:
        self.q.eval()  # no dropout noise in the policy being judged
        try:
            result = greedy_evaluation(self.eval_env, lambda obs: self.greedy(self.encode(obs)),
                                       self.eval_episodes, self.seed, offset)
        finally:
            self.q.train()
        result.pop("eval_success_rate")
        return result

    def evaluate_and_check(self, episodes: int) -> bool:
        """A greedy check on check episodes; True when it says the task is solved."""
        self.next_eval_episode = episodes + max(self.solve_window // 2, 1)
        result = self.greedy_result(CHECK_SEED_OFFSET)
        self.record("check", {"episode": episodes, "mean_reward": result["eval_mean_reward"]})
        if self.best is None or result["eval_mean_reward"] > self.best["mean_reward"]:
            self.best = {"mean_reward": result["eval_mean_reward"], "episode": episodes,
                         "weights": copy.deepcopy(self.q.state_dict())}
        return self.threshold is not None and result["eval_mean_reward"] >= self.threshold

    def finish(self) -> dict[str, Any]:
        """The final greedy evaluation, on episodes no check has seen.

        With keep_best, the weights that did best in the checks are the ones evaluated
        and kept, when they beat the last weights on the same check episodes.
        """
        best = self.best
        metrics = {**self.summary(), "best_check_episode": None, "best_check_mean_reward": None}
        if self.keep_best and best is not None:
            current = (best["mean_reward"] if best["episode"] == self.epoch
                       else self.greedy_result(CHECK_SEED_OFFSET)["eval_mean_reward"])
            if best["mean_reward"] > current:
                self.online = _cpu(self.q.state_dict())  # a resumed run goes on from these
                self.q.load_state_dict(best["weights"])
            metrics.update(best_check_episode=best["episode"],
                           best_check_mean_reward=max(best["mean_reward"], current))
        result = self.greedy_result(EVAL_SEED_OFFSET)
        metrics.update(result)
        metrics["solved"] = bool(self.threshold is not None
                                 and result["eval_mean_reward"] >= self.threshold)
        return metrics

    def summary(self) -> dict[str, Any]:
        recent = list(self.recent)
        return {"episodes": self.epoch, "env_steps": self.env_steps, "gradient_steps": self.step,
                "train_mean_reward_recent": float(np.mean(recent)) if recent else None,
                "reward_threshold": self.threshold}


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}
