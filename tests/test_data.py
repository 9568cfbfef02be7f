"""Embedded, synthetic, token, graph and environment datasets: shapes, determinism, content."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import (
    REGISTRY,
    ArrayDataset,
    DatasetError,
    EnvironmentDataset,
    GraphDataset,
    input_shapes,
    load_dataset,
)
from engine.data.base import find_entry, option

# Datasets that need no file and no network, with small option sets worth covering.
OFFLINE_SPECS = [
    {"name": "iris"}, {"name": "iris", "features": 2},
    {"name": "digits"}, {"name": "digits", "image_size": 28},
    {"name": "xor"}, {"name": "xor", "exact": True},
    {"name": "moons"}, {"name": "circles", "factor": 0.3},
    {"name": "spirals"}, {"name": "spirals", "classes": 3, "n_samples": 90},
    {"name": "blobs"}, {"name": "ring", "modes": 6},
    {"name": "sine"}, {"name": "sine", "mode": "sequence", "seq_len": 7},
    {"name": "sine", "frequency": [0.02, 0.1]},
    {"name": "remember", "seq_len": 12, "classes": 3, "n_samples": 60},
    {"name": "copy"}, {"name": "copy", "delay": 2, "vocab": 5},
    {"name": "reverse", "seq_len": 5}, {"name": "sort", "vocab": 4},
    {"name": "majority", "seq_len": 9},
    {"name": "karate"}, {"name": "karate", "labels_per_class": 3},
    {"name": "CartPole-v1"}, {"name": "FrozenLake-v1", "map_name": "8x8"},
]


def load(spec: dict, seed: int = 0):
    return load_dataset({"dataset": spec}, seed)


def test_every_registered_dataset_is_documented():
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.doc and entry.kind in {"arrays", "graph", "environment"}


@pytest.mark.parametrize("spec", OFFLINE_SPECS, ids=lambda s: "-".join(map(str, s.values())))
def test_shapes_agree_with_the_loaded_data(spec):
    data = load(spec)
    assert input_shapes({"dataset": spec}) == data.input_shapes()
    assert find_entry(spec).shapes(spec) == data.input_shapes()
    if isinstance(data, ArrayDataset):
        assert data.x.dtype in (np.float32, np.int64)
        assert set(data.splits) == {"train", "val", "test"}
        for idx in data.splits.values():
            assert len(idx) and idx.max() < len(data.x)
        if data.y is not None:
            assert len(data.y) == len(data.x)
            if data.num_classes:
                assert data.y.dtype == np.int64 and 0 <= data.y.min() and data.y.max() < data.num_classes
                assert len(data.class_names) == data.num_classes
            else:
                assert data.y.dtype == np.float32


ARRAY_SPECS = [s for s in OFFLINE_SPECS if find_entry(s).kind == "arrays"]


@pytest.mark.parametrize("spec", ARRAY_SPECS, ids=lambda s: "-".join(map(str, s.values())))
def test_same_seed_same_arrays_other_seed_other_split(spec):
    first, again, other = load(spec, 3), load(spec, 3), load(spec, 4)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.y, again.y)
    for split in first.splits:
        assert np.array_equal(first.splits[split], again.splits[split])
    if spec.get("exact"):
        return  # four points: every split is all of them
    assert not np.array_equal(first.splits["train"], other.splits["train"])


def test_splits_are_disjoint_and_cover_everything():
    data = load({"name": "moons"})
    joined = np.concatenate(list(data.splits.values()))
    assert len(np.unique(joined)) == len(joined) == len(data.x)


def test_xor_truth_table():
    data = load({"name": "xor", "exact": True})
    assert data.x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert data.y.tolist() == [0, 1, 1, 0]
    noisy = load({"name": "xor", "noise": 0.05})
    corner = np.round(noisy.x).astype(int)
    assert np.array_equal(corner[:, 0] ^ corner[:, 1], noisy.y)


@pytest.mark.parametrize("seed", range(5))
def test_blobs_are_linearly_separable_with_the_margin(seed):
    data = load({"name": "blobs", "noise": 2.0, "margin": 0.3}, seed)
    sign = np.where(data.y == 1, 1.0, -1.0)
    assert (sign * data.x.sum(axis=1) / np.sqrt(2) >= 0.3 - 1e-5).all()
    assert set(data.y.tolist()) == {0, 1}


def test_spirals_have_one_arm_per_class():
    data = load({"name": "spirals", "classes": 4, "n_samples": 400})
    assert data.num_classes == 4 and np.bincount(data.y).tolist() == [100] * 4
    assert np.abs(data.x).max() < 1.2


def test_ring_points_sit_on_their_mode():
    data = load({"name": "ring", "radius": 2.0, "noise": 0.01})
    angle = 2 * np.pi * data.y / 8
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    assert np.abs(data.x - centres).max() < 0.1


def test_sine_targets_continue_the_window():
    nxt = load({"name": "sine", "seq_len": 10})
    assert nxt.x.shape == (1000, 10, 1) and nxt.y.shape == (1000, 1)
    seq = load({"name": "sine", "seq_len": 10, "mode": "sequence", "n_samples": 50})
    assert seq.y.shape == (50, 10, 1) and np.array_equal(seq.y[:, :-1], seq.x[:, 1:])
    assert nxt.x.dtype == nxt.y.dtype == np.float32


def test_remember_answer_is_the_first_symbol():
    data = load({"name": "remember", "seq_len": 30, "classes": 5, "n_samples": 200})
    assert data.x.shape == (200, 30, 7)
    assert np.array_equal(data.x[:, 0, :5].argmax(axis=1), data.y)
    assert (data.x[:, 0, 5] == 1).all() and (data.x[:, -1, 6] == 1).all()


def test_token_tasks():
    for name, expect in (("copy", lambda x: x), ("reverse", lambda x: x[:, ::-1]),
                         ("sort", lambda x: np.sort(x, axis=1))):
        data = load({"name": name, "seq_len": 6, "vocab": 7, "n_samples": 100})
        assert data.x.shape == data.y.shape == (100, 6) and data.x.dtype == np.int64
        assert data.x.min() >= 0 and data.x.max() < 7
        assert data.info["vocab"] == data.num_classes == 7
        assert np.array_equal(data.y, expect(data.x))
    delayed = load({"name": "copy", "delay": 3, "seq_len": 6})
    assert (delayed.y[:, :3] == 0).all() and np.array_equal(delayed.y[:, 3:], delayed.x[:, :3])
    assert delayed.x.min() >= 1


def test_majority_has_one_unique_answer():
    data = load({"name": "majority", "seq_len": 6, "vocab": 4, "n_samples": 300})
    assert data.y.shape == (300,)
    for row, label in zip(data.x, data.y, strict=True):
        counts = np.bincount(row, minlength=4)
        assert counts.argmax() == label and (counts == counts.max()).sum() == 1


def test_karate_graph_and_masks():
    data = load({"name": "karate"})
    assert isinstance(data, GraphDataset)
    adj = data.adjacency
    assert adj.dtype == np.float32 and set(np.unique(adj)) == {0.0, 1.0}
    assert np.array_equal(adj, adj.T) and adj.sum() == 2 * 78 and np.trace(adj) == 0
    assert np.array_equal(data.features, np.eye(34, dtype=np.float32))
    assert data.labels[0] == 0 and data.labels[33] == 1 and np.bincount(data.labels).tolist() == [17, 17]
    assert np.flatnonzero(data.masks["train"]).tolist() == [0, 33]
    assert np.array_equal(data.masks["test"], ~data.masks["train"])
    more = load({"name": "karate", "labels_per_class": 3}, seed=5)
    train = np.flatnonzero(more.masks["train"])
    assert len(train) == 6 and {0, 33} <= set(train.tolist())
    assert np.bincount(more.labels[train]).tolist() == [3, 3]


def _steps(data: EnvironmentDataset, count: int = 5):
    env = data.make()
    try:
        obs, _ = env.reset(seed=0)
        for _ in range(count):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, _ = env.reset()
        return obs
    finally:
        env.close()


def test_cartpole_steps():
    data = load({"name": "CartPole-v1"})
    assert data.observation_shape == (4,) and data.num_actions == 2 and data.num_states is None
    assert data.reward_threshold == 475.0
    assert np.asarray(_steps(data)).shape == (4,)


def test_frozenlake_is_one_hot_states_and_passes_options():
    data = load({"name": "FrozenLake-v1", "is_slippery": False, "map_name": "8x8"})
    assert data.num_states == 64 and data.observation_shape == (64,) and data.num_actions == 4
    assert 0 <= int(_steps(data)) < 64
    env = data.make()
    assert env.unwrapped.desc.shape == (8, 8)
    env.close()


def test_any_gymnasium_id_and_clear_refusals():
    assert load({"name": "Acrobot-v1"}).num_actions == 3
    with pytest.raises(DatasetError, match="Pendulum-v1.*discrete"):
        load({"name": "Pendulum-v1"})
    with pytest.raises(DatasetError, match="unknown dataset 'NoSuchEnv-v0'"):
        load({"name": "NoSuchEnv-v0"})
    with pytest.raises(DatasetError, match="CartPole-v1.*unsupported option"):
        load({"name": "CartPole-v1", "wings": 2})


def test_bad_options_name_the_option():
    with pytest.raises(DatasetError, match=r"training\.dataset\.seq_len: expected an integer"):
        input_shapes({"dataset": {"name": "sine", "seq_len": "long"}})
    with pytest.raises(DatasetError, match=r"training\.dataset\.mode: expected one of"):
        load({"name": "sine", "mode": "backwards"})
    with pytest.raises(DatasetError, match=r"training\.dataset\.frequency"):
        load({"name": "sine", "frequency": [0.3, 0.1]})
    with pytest.raises(DatasetError, match=r"at least 2"):
        load({"name": "spirals", "classes": 1})


def test_option_helper():
    assert option({"n": 3.0}, "n", 1, int) == 3
    assert option({"f": 2}, "f", 1.0, float) == 2.0 and isinstance(option({"f": 2}, "f", 1.0, float), float)
    assert option({}, "n", None, int) is None
    with pytest.raises(DatasetError, match="expected true or false"):
        option({"b": 1}, "b", False, bool)
    with pytest.raises(DatasetError, match="expected an integer"):
        option({"n": True}, "n", 1, int)
