"""Comparing runs: the table of a store, the diff of two runs, the Pareto front of a sweep.

Plain data in, plain data out (no torch, no Qt): `netcanvas runs`, the Runs
panel and the trade-off plot all read the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.runs.settings import document_settings, flatten
from engine.runs.store import RunInfo

_MISSING = object()


def differing_settings(runs: Sequence[RunInfo]) -> list[str]:
    """The settings (training and node parameters) whose values are not the same in every run."""
    flats = [document_settings(run.record) for run in runs]
    keys = sorted({key for flat in flats for key in flat})
    return [key for key in keys if len({repr(flat.get(key, _MISSING)) for flat in flats}) > 1]


def runs_table(runs: Sequence[RunInfo]) -> list[dict[str, Any]]:
    """One row per run: id, document, started, status, differing settings, metrics, duration, parameters."""
    keys = differing_settings(runs) if len(runs) > 1 else []
    rows = []
    for run in runs:
        flat = document_settings(run.record)
        rows.append({
            "id": run.id, "document": run.document_name, "started": run.record.get("started"),
            "status": run.status, "reason": run.record.get("reason", ""),
            "settings": {key: flat.get(key) for key in keys},
            "metrics": run.metrics, "duration": run.duration,
            "parameters": run.record.get("parameters"), "macs": run.record.get("macs"),
            "sweep": run.record.get("sweep"), "star": bool(run.notes.get("star")),
            "note": run.notes.get("note", ""), "path": str(run.path),
        })
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The table as aligned text, a column per differing setting and per final metric."""
    if not rows:
        return "no runs"
    settings = list(dict.fromkeys(k for row in rows for k in row["settings"]))
    metrics = list(dict.fromkeys(k for row in rows for k in row["metrics"]))
    header = ["run", "document", "started", "status", *settings, *metrics, "duration", "parameters"]
    lines = [header]
    for row in rows:
        lines.append([row["id"], row["document"], row["started"] or "", row["status"],
                      *(_text(row["settings"].get(k)) for k in settings),
                      *(_text(row["metrics"].get(k)) for k in metrics),
                      _duration(row["duration"]), _text(row["parameters"])])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def diff_runs(a: RunInfo, b: RunInfo) -> dict[str, Any]:
    """What changed from run `a` to run `b`: nodes, parameters, training settings, metrics."""
    nodes_a, nodes_b = _nodes(a.record), _nodes(b.record)
    changed = {}
    for key in sorted(set(nodes_a) & set(nodes_b)):
        before, after = nodes_a[key], nodes_b[key]
        params = _changes(flatten(before.get("params") or {}), flatten(after.get("params") or {}))
        if before.get("block") != after.get("block"):
            params["block"] = (before.get("block"), after.get("block"))
        if params:
            changed[key] = params
    training = _changes(flatten((a.record.get("document") or {}).get("training") or {}),
                        flatten((b.record.get("document") or {}).get("training") or {}))
    metrics = {}
    for key in sorted(set(a.metrics) | set(b.metrics)):
        va, vb = a.metrics.get(key), b.metrics.get(key)
        metrics[key] = {"a": va, "b": vb, "delta": vb - va if va is not None and vb is not None else None}
    return {
        "a": a.id, "b": b.id,
        "nodes_added": sorted(set(nodes_b) - set(nodes_a)),
        "nodes_removed": sorted(set(nodes_a) - set(nodes_b)),
        "nodes_changed": {k: {p: list(v) for p, v in c.items()} for k, c in changed.items()},
        "training_changed": {k: list(v) for k, v in training.items()},
        "metrics": metrics,
        "parameters": {"a": a.record.get("parameters"), "b": b.record.get("parameters")},
    }


def format_diff(diff: dict[str, Any]) -> str:
    lines = [f"{diff['a']} -> {diff['b']}"]
    lines += [f"  + node {n}" for n in diff["nodes_added"]]
    lines += [f"  - node {n}" for n in diff["nodes_removed"]]
    for node, params in diff["nodes_changed"].items():
        lines += [f"  ~ {node}.{p}: {_text(v[0])} -> {_text(v[1])}" for p, v in params.items()]
    lines += [f"  ~ training.{k}: {_text(v[0])} -> {_text(v[1])}" for k, v in diff["training_changed"].items()]
    params = diff["parameters"]
    if params["a"] != params["b"]:
        lines.append(f"  parameters: {_text(params['a'])} -> {_text(params['b'])}")
    for key, m in diff["metrics"].items():
        delta = f" ({m['delta']:+.4g})" if m["delta"] is not None else ""
        lines.append(f"  {key}: {_text(m['a'])} -> {_text(m['b'])}{delta}")
    if len(lines) == 1:
        lines.append("  no differences")
    return "\n".join(lines)


def pareto_front(points: Sequence[tuple[float, float]], maximize: bool = True) -> list[int]:
    """Indices of the points no other point beats: lower cost (x) and a better metric (y).

    Sorted by cost, the front is every point better than all cheaper ones.
    """
    sign = 1.0 if maximize else -1.0
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -sign * points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if sign * points[i][1] > best:
            front.append(i)
            best = sign * points[i][1]
    return front


def _nodes(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    networks = (record.get("document") or {}).get("networks") or {}
    return {f"{net}.{node.get('id')}" if len(networks) > 1 else str(node.get("id")): node
            for net, network in networks.items() for node in network.get("nodes") or []}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {key: (before.get(key), after.get(key)) for key in sorted(set(before) | set(after))
            if before.get(key, _MISSING) != after.get(key, _MISSING)}


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"
