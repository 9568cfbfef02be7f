"""Zachary's karate club: the graph every GNN tutorial starts from, shipped with networkx."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.base import DataFacts, DatasetEntry, GraphDataset, option, register

KARATE_NODES = 34
CLUBS = ["Mr. Hi", "Officer"]


def _karate(spec: dict[str, Any], seed: int) -> GraphDataset:
    import networkx as nx  # on use: checking a document's shapes needs no networkx

    per_class = option(spec, "labels_per_class", 1, int, minimum=1, maximum=16)
    graph = nx.karate_club_graph()
    nodes = sorted(graph.nodes)
    # weight=None: the raw 0/1 friendships; GraphConv does its own normalisation.
    adjacency = nx.to_numpy_array(graph, nodelist=nodes, weight=None, dtype=np.float32)
    labels = np.array([CLUBS.index(graph.nodes[v]["club"]) for v in nodes], dtype=np.int64)
    # Node 0 (the instructor) and node 33 (the administrator) lead the two factions, so
    # they are the labelled ones first; more per class are drawn under the seed.
    rng = np.random.default_rng(seed)
    train = np.zeros(KARATE_NODES, dtype=bool)
    for club, leader in enumerate((0, 33)):
        others = np.flatnonzero((labels == club) & (np.arange(KARATE_NODES) != leader))
        train[leader] = True
        train[rng.choice(others, per_class - 1, replace=False)] = True
    test = ~train
    return GraphDataset(
        "karate", adjacency, np.eye(KARATE_NODES, dtype=np.float32), labels,
        {"train": train, "val": test.copy(), "test": test}, 2, list(CLUBS),
        {"labels_per_class": per_class},
    )


register(DatasetEntry(
    "karate", "Zachary's karate club (34 members, 78 friendships): predict which club each "
    "member joined after the split. Features are one-hot node ids.",
    "graph", _karate,
    lambda spec: {"adjacency": (KARATE_NODES, KARATE_NODES),
                  "features": (KARATE_NODES, KARATE_NODES)},
    {"labels_per_class": "labelled training nodes per club (default 1: nodes 0 and 33); "
                         "all other nodes are validation and test"},
    facts=lambda spec: DataFacts(
        "graph", {"adjacency": (KARATE_NODES, KARATE_NODES), "features": (KARATE_NODES, KARATE_NODES)},
        len(CLUBS), (KARATE_NODES,), nodes=KARATE_NODES),
))
