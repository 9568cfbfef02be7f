"""Gymnasium environments as datasets for the reinforcement-learning trainers.

Any registered gymnasium id works (through a fallback); CartPole-v1 and
FrozenLake-v1 are registered by name so they show in the dataset list with their
options. Every option but `name` is passed to `gymnasium.make`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from engine.data.base import FALLBACKS, DatasetEntry, EnvironmentDataset, facts_of, register
from engine.errors import DatasetError


def _env_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "name"}


def _make(env_id: str, kwargs: dict[str, Any], render_mode: str | None = None) -> Any:
    import gymnasium as gym  # imported late: it is only needed once an environment is used

    try:
        return gym.make(env_id, render_mode=render_mode, **kwargs)
    except gym.error.Error as exc:
        raise DatasetError(f"environment '{env_id}': {exc}") from exc
    except (ImportError, ModuleNotFoundError) as exc:
        raise DatasetError(f"environment '{env_id}' needs a package that is not installed: "
                           f"{exc}") from exc
    except TypeError as exc:
        raise DatasetError(f"environment '{env_id}': unsupported option ({exc})") from exc


def _describe(env_id: str, kwargs: dict[str, Any]) -> EnvironmentDataset:
    """What the networks see and can do in `env_id`, built from one throwaway instance."""
    from gymnasium import spaces

    env = _make(env_id, kwargs)
    try:
        obs, act = env.observation_space, env.action_space
        spec = env.spec
    finally:
        env.close()
    if not isinstance(act, spaces.Discrete):
        raise DatasetError(
            f"environment '{env_id}' has a continuous or composite action space ({act}); "
            "the Q-learning and DQN trainers need a discrete set of actions"
        )
    num_states = None
    if isinstance(obs, spaces.Discrete):
        num_states = int(obs.n)
        shape: tuple[int, ...] = (num_states,)  # fed one-hot
    elif isinstance(obs, spaces.Box):
        shape = tuple(int(d) for d in obs.shape)
    else:
        raise DatasetError(f"environment '{env_id}' has an observation space NetCanvas cannot "
                           f"feed to a network ({obs}); use one with Box or Discrete observations")
    threshold = spec.reward_threshold if spec is not None else None
    max_steps = spec.max_episode_steps if spec is not None else None
    return EnvironmentDataset(
        env_id, partial(_make, env_id, dict(kwargs)), shape, int(act.n), num_states,
        None if threshold is None else float(threshold),
        {"options": dict(kwargs), "max_episode_steps": max_steps},
    )


def _load(spec: dict[str, Any], seed: int) -> EnvironmentDataset:
    dataset = _describe(spec["name"], _env_kwargs(spec))
    dataset.info["seed"] = seed  # the trainer seeds env.reset with it
    return dataset


def _shapes(spec: dict[str, Any]) -> dict[str, tuple]:
    return _describe(spec["name"], _env_kwargs(spec)).input_shapes()


def _entry(env_id: str, doc: str, options: dict[str, str] | None = None) -> DatasetEntry:
    return DatasetEntry(env_id, doc, "environment", _load, _shapes, options or {},
                        facts=lambda spec: facts_of(_describe(spec["name"], _env_kwargs(spec))))


register(_entry(
    "CartPole-v1", "Balance a pole on a cart: 4 continuous observations, 2 actions, "
    "solved at an average reward of 475.",
))
register(_entry(
    "FrozenLake-v1", "Cross a frozen lake to the goal without falling in a hole: discrete "
    "states (fed one-hot), 4 actions.",
    {"is_slippery": "the ice makes moves random (default true)",
     "map_name": "\"4x4\" (default) or \"8x8\""},
))


def _gymnasium_fallback(name: str) -> DatasetEntry | None:
    """Any id gymnasium knows, so a document may name an environment we never listed."""
    try:
        import gymnasium as gym
    except ImportError:  # pragma: no cover - gymnasium is a dependency
        return None
    if name not in gym.registry:
        return None
    return _entry(name, f"The gymnasium environment {name}.")


FALLBACKS.append(_gymnasium_fallback)
