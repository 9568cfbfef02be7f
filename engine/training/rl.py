"""What the two reinforcement-learning trainers share: the environment, seeds, evaluation.

Both trainers count episodes where the supervised ones count epochs (the base's
`epoch` holds the episode count, so resume and progress work unchanged), seed
the environment once on its first reset so a run repeats exactly, and judge the
result by a greedy evaluation on separately seeded episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.data import EnvironmentDataset, load_dataset
from engine.errors import NetCanvasError
from engine.training.settings import section, setting

# Evaluation episodes never replay training ones; checks made during training (to stop
# early or keep the best weights) use other episodes than the final, reported evaluation,
# so picking the best weights cannot flatter the final figure.
EVAL_SEED_OFFSET = 1_000_003
CHECK_SEED_OFFSET = 2_000_003


def load_environment(training: dict[str, Any], seed: int, task: str) -> EnvironmentDataset:
    data = load_dataset(training, seed)
    if not isinstance(data, EnvironmentDataset):
        raise NetCanvasError(f"task '{task}' needs a gymnasium environment as its dataset (e.g. "
                             f"'CartPole-v1', 'FrozenLake-v1'); '{getattr(data, 'name', '?')}' "
                             "is not one")
    return data


def total_episodes(training: dict[str, Any], name: str, override: int | None,
                   default: int) -> int:
    """`--epochs` on the command line, else `training.<name>.episodes`, else `training.epochs`."""
    if override is not None:
        return int(override)
    if "episodes" in section(training, name):
        return setting(training, name, "episodes", default, int, minimum=1)
    return int(training.get("epochs", default))


def encoder(data: EnvironmentDataset) -> Callable[[Any], np.ndarray]:
    """Observation -> float32 vector the network takes (one-hot for discrete states)."""
    if data.num_states is not None:
        eye = np.eye(data.num_states, dtype=np.float32)
        return lambda obs: eye[int(obs)]
    return lambda obs: np.asarray(obs, dtype=np.float32).reshape(data.observation_shape)


def greedy_evaluation(env: Any, act: Callable[[Any], int], episodes: int, seed: int,
                      offset: int = EVAL_SEED_OFFSET) -> dict[str, float]:
    """Play `episodes` with the greedy policy `act`, each reset with its own fixed seed.

    Fixed seeds make the evaluation of the same weights give the same numbers, so
    two evaluations can be compared and a result repeated.
    """
    rewards, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + offset + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            rewards[i] += float(reward)
            lengths[i] += 1
            done = terminated or truncated
    return {"eval_mean_reward": float(rewards.mean()), "eval_std_reward": float(rewards.std()),
            "eval_mean_length": float(lengths.mean()),
            "eval_success_rate": float((rewards > 0).mean()), "eval_episodes": episodes}


def check_action_width(width: int, data: EnvironmentDataset, network: str) -> None:
    if width != data.num_actions:
        raise NetCanvasError(
            f"network '{network}' gives {width} values per state but '{data.name}' has "
            f"{data.num_actions} actions: set the last Linear's out_features to {data.num_actions}")
