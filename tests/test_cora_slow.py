"""gcn_cora and gat_cora train end to end on a Cora-shaped stand-in (`pytest -m slow`).

Cora is downloaded on first use, and tests never reach the network, so this
writes a stand-in of Cora's exact size into the data cache, in the files a
person may place there by hand: 2,708 papers over Cora's 7 topic sizes, 5,429
citations of which four in five stay within a topic (Cora's homophily), and
a 1,433-word vocabulary where each paper draws a share of its words from its
topic's own. Both presets, as shipped, must learn it well from 20 labels per
topic: the whole pipeline at full size (the per-edge attention on 2,708²
adjacency included) with the same split for both. The accuracies on the real
Cora are the papers' (83.0% GAT, 81.5% GCN), not measured here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.presets_benchmark import train_preset
from engine.data import downloads

pytestmark = pytest.mark.slow

TOPICS = {"Neural_Networks": 818, "Probabilistic_Methods": 426, "Genetic_Algorithms": 418,
          "Theory": 351, "Case_Based": 298, "Reinforcement_Learning": 217, "Rule_Learning": 180}
WORDS, CITATIONS, WITHIN_TOPIC = 1433, 5429, 0.8


def write_stand_in(folder: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(TOPICS)), list(TOPICS.values()))
    rng.shuffle(labels)
    papers = len(labels)
    topic_words = rng.permutation(WORDS)[: len(TOPICS) * 60].reshape(len(TOPICS), 60)
    lines = []
    for paper, topic in enumerate(labels):
        flags = np.zeros(WORDS, dtype=int)
        flags[rng.choice(topic_words[topic], 5, replace=False)] = 1  # its topic's words
        flags[rng.choice(WORDS, 13, replace=False)] = 1  # and any others
        lines.append("\t".join([str(31336 + paper), *map(str, flags), list(TOPICS)[topic]]))
    members = [np.flatnonzero(labels == t) for t in range(len(TOPICS))]
    cites = set()
    while len(cites) < CITATIONS:
        a = int(rng.integers(papers))
        b = (int(rng.choice(members[labels[a]])) if rng.random() < WITHIN_TOPIC
             else int(rng.integers(papers)))
        if a != b and (b, a) not in cites:
            cites.add((a, b))
    folder.mkdir(parents=True)
    (folder / "cora.content").write_text("\n".join(lines) + "\n")
    (folder / "cora.cites").write_text("".join(f"{31336 + a}\t{31336 + b}\n" for a, b in sorted(cites)))


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_stand_in(root / "cora")
    return root


@pytest.mark.parametrize("name", ["gcn_cora", "gat_cora"])
def test_cora_preset_learns_a_cora_shaped_graph(stand_in: Path, monkeypatch, name: str) -> None:
    monkeypatch.setenv(downloads.CACHE_ENV, str(stand_in))
    metrics, seconds, failure = train_preset(name, {})
    assert not failure, failure
    print(f"{name}: test accuracy {metrics['test_accuracy']:.3f} in {seconds:.0f} s")
    assert metrics["test_accuracy"] >= 0.7
