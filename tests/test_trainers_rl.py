"""The reinforcement-learning trainers: DQN and tabular Q-learning, on tiny runs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

import engine.data.environments  # noqa: F401  (registers CartPole-v1, FrozenLake-v1)
from engine.data.base import DatasetEntry, EnvironmentDataset, register
from engine.training import Episode, Failed, Finished, Started, Step, make_trainer
from tests.helpers import chain_document


class SignBandit(gym.Env):
    """Ten rounds of: see which side is lit, press that side for a reward of 1."""

    observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.rounds = 0
        return self._light(), {}

    def _light(self) -> np.ndarray:
        self.side = int(self.np_random.integers(2))
        return np.eye(2, dtype=np.float32)[self.side]

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken

    def step(self, action):
        reward = float("nan") if self.broken else float(action == self.side)
        self.rounds += 1
        return self._light(), reward, False, self.rounds >= 10, {}


def _bandit(spec, seed):
    broken = bool(spec.get("broken", False))
    return EnvironmentDataset("test_bandit", lambda render_mode=None: SignBandit(broken), (2,), 2,
                              reward_threshold=spec.get("threshold"))


register(DatasetEntry("test_bandit", "a two-armed contextual bandit", "environment", _bandit,
                      lambda spec: {"x": (None, 2)}))


def run_all(doc, **options):
    return list(make_trainer(doc, **options).run())


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


def dqn_doc(dataset="test_bandit", out=2, **dqn) -> object:
    settings = {"episodes": 40, "gamma": 0.5, "learning_starts": 32, "batch_size": 32,
                "epsilon_decay_steps": 200, "eval_episodes": 5, "eval_every": 0, "log_every": 20}
    settings.update(dqn)
    return chain_document(
        [("Linear", {"out_features": 16}), ("ReLU", {}), ("Linear", {"out_features": out})],
        {"task": "dqn", "dataset": dataset, "seed": 0, "device": "cpu",
         "optimizer": {"name": "adam", "lr": 0.01}, "dqn": settings}, network="q_network")


def q_doc(slippery=False, bias=False, **settings) -> object:
    params = {"episodes": 400, "epsilon_decay": 0.99, "alpha": 0.5, "gamma": 0.95,
              "eval_episodes": 50}
    params.update(settings)
    return chain_document(
        [("Linear", {"out_features": 4, "bias": bias})],
        {"task": "q_learning", "dataset": {"name": "FrozenLake-v1", "is_slippery": slippery},
         "seed": 0, "device": "cpu", "q_learning": params})


# ---- DQN -------------------------------------------------------------------------


def test_dqn_learns_a_bandit_and_reports_episodes_steps_and_evaluation():
    doc = dqn_doc()
    events = run_all(doc)
    assert isinstance(events[0], Started) and events[0].total_epochs == 40
    episodes = [e for e in events if isinstance(e, Episode)]
    steps = [e for e in events if isinstance(e, Step)]
    assert len(episodes) == 40 and episodes[-1].progress == 1.0
    assert episodes[0].epsilon > episodes[-1].epsilon
    assert all(e.length == 10 for e in episodes)
    assert steps and all(np.isfinite(s.loss) for s in steps)
    assert np.mean([e.reward for e in episodes[-10:]]) > np.mean([e.reward for e in episodes[:5]])
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.stopped
    metrics = finished.metrics
    assert metrics["eval_episodes"] == 5 and metrics["eval_mean_reward"] >= 9
    assert metrics["episodes"] == 40 and metrics["env_steps"] == 400
    assert set(doc.weights) == {"q_network"}  # the target network is the trainer's own copy
    assert doc.train_state["epoch"] == 40 and "q_network" in doc.train_state["optimizers"]


def test_dqn_stops_early_once_a_greedy_check_confirms_the_threshold():
    events = run_all(dqn_doc({"name": "test_bandit", "threshold": 9.5}, episodes=200,
                             solve_window=5))
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.metrics["solved"] and finished.metrics["episodes"] < 200


def test_dqn_same_seed_same_weights_and_stop():
    a, b = dqn_doc(episodes=10, tau=0.1), dqn_doc(episodes=10, target_update=20)
    c = dqn_doc(episodes=10, tau=0.1)
    run_all(a)
    run_all(b)
    run_all(c)
    assert weights_equal(a.weights, c.weights)
    assert not weights_equal(a.weights, b.weights)  # soft and hard target updates differ
    trainer = make_trainer(dqn_doc(episodes=100))
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Episode) and event.episode == 3:
            trainer.stop()
    assert isinstance(events[-1], Finished) and events[-1].stopped
    assert events[-1].metrics["episodes"] == 3


def test_dqn_on_cartpole_runs_and_resumes():
    doc = dqn_doc("CartPole-v1", episodes=3, learning_starts=16, eval_episodes=2)
    events = run_all(doc)
    finished = events[-1]
    assert isinstance(finished, Finished), events[-1]
    assert {"eval_mean_reward", "eval_episodes", "solved"} <= set(finished.metrics)
    assert finished.metrics["reward_threshold"] == 475.0
    resumed = run_all(doc, resume=True, epochs=5)
    assert resumed[0].start_epoch == 3
    assert [e.episode for e in resumed if isinstance(e, Episode)] == [4, 5]


def test_dqn_nan_reward_fails_and_keeps_finite_weights():
    doc = dqn_doc({"name": "test_bandit", "broken": True})
    failed = run_all(doc)[-1]
    assert isinstance(failed, Failed) and failed.step == 1 and "nan" in failed.message
    assert all(torch.isfinite(v).all() for v in doc.weights["q_network"].values())


def test_dqn_refuses_a_network_with_the_wrong_number_of_actions():
    failed = run_all(dqn_doc("CartPole-v1", out=3))[-1]
    assert isinstance(failed, Failed)
    assert "2 actions" in failed.message and "out_features to 2" in failed.message


# ---- tabular Q-learning ----------------------------------------------------------


def test_q_learning_solves_the_deterministic_lake_and_the_weight_is_the_table():
    doc = q_doc()
    events = run_all(doc)
    episodes = [e for e in events if isinstance(e, Episode)]
    assert len(episodes) == 400
    assert np.mean([e.reward for e in episodes[-50:]]) > np.mean([e.reward for e in episodes[:50]])
    finished = events[-1]
    assert isinstance(finished, Finished), finished
    assert finished.metrics["eval_success_rate"] == 1.0
    table = doc.weights["main"]["b0.weight"]  # (actions, states): Q[s, a] = weight[a, s]
    assert table.shape == (4, 16)
    assert table.argmax(0).tolist() == finished.metrics["policy"]
    assert float(table[:, 15].abs().sum()) == 0.0  # the goal is terminal: never updated


def test_q_learning_update_is_the_tabular_rule():
    """One step from zero: Q[s,a] = α·(r + γ·max Q[s']) − 0 is 0 unless the goal is reached."""
    doc = q_doc(episodes=1, eval_episodes=1)
    trainer = make_trainer(doc)
    for _ in trainer.run():
        pass
    table = doc.weights["main"]["b0.weight"]
    assert float(table.abs().sum()) == 0.0 or float(table.max()) == 0.5  # α·r on reaching the goal


def test_q_learning_reports_in_blocks_same_seed_same_table_and_stop():
    a, b = q_doc(True, episodes=300, report_every=100), q_doc(True, episodes=300, report_every=100)
    events = run_all(a)
    run_all(b)
    assert weights_equal(a.weights, b.weights)
    assert [e.episode for e in events if isinstance(e, Episode)] == [100, 200, 300]
    trainer = make_trainer(q_doc(episodes=5000))
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Episode) and event.episode == 10:
            trainer.stop()
    assert isinstance(events[-1], Finished) and events[-1].stopped


def test_q_learning_refuses_networks_that_are_not_a_table():
    with_bias = run_all(q_doc(bias=True))[-1]
    assert isinstance(with_bias, Failed) and "bias" in with_bias.message
    hidden = chain_document([("Linear", {"out_features": 8, "bias": False}), ("ReLU", {}),
                             ("Linear", {"out_features": 4, "bias": False})],
                            q_doc().training)
    failed = run_all(hidden)[-1]
    assert isinstance(failed, Failed) and "Q-table" in failed.message
    continuous = chain_document([("Linear", {"out_features": 2, "bias": False})],
                                {"task": "q_learning", "dataset": "CartPole-v1", "device": "cpu"})
    failed = run_all(continuous)[-1]
    assert isinstance(failed, Failed) and "discrete states" in failed.message
