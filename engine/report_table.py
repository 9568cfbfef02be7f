"""The table `netcanvas check` prints: node, block, output shape, parameters, errors."""

from __future__ import annotations

from engine.blocks.base import fmt_shape
from engine.document import Document
from engine.shapes import CheckReport


def human_count(n: int) -> str:
    """12_345_678 -> '12.3M': totals a person can read at a glance."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def format_check(doc: Document, report: CheckReport) -> str:
    lines = [f"{doc.name}"]
    lines += [f"error: {p}" for p in report.problems]
    lines += [f"warning: {w}" for w in report.warnings]
    for name, net in report.networks.items():
        lines.append(f"\nnetwork '{name}'")
        rows = [("node", "block", "output shape", "params", "notes")]
        fixes: dict[int, list[str]] = {}  # row -> the quick fixes printed under it
        for r in net.nodes.values():
            shapes = ", ".join(
                fmt_shape(s) if port == "out" else f"{port}: {fmt_shape(s)}"
                for port, s in r.outputs.items()
            )
            notes = "; ".join([f"ERROR {e}" for e in r.errors] + [f"warning: {w}" for w in r.warnings])
            rows.append((r.node_id, r.block, shapes or "-", f"{r.parameters:,}", notes))
            fixes[len(rows) - 1] = [fix.description for fix in r.fixes]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for at, row in enumerate(rows):
            cells = [row[i].ljust(widths[i]) if i != 3 else row[i].rjust(widths[i]) for i in range(4)]
            lines.append("  ".join(cells + [row[4]]).rstrip())
            indent = " " * (sum(widths) + 8)  # under the notes column
            lines += [f"{indent}fix: {text}" for text in fixes.get(at, [])]
        lines += [f"error: {p}" for p in net.problems]
        lines.append(
            f"total: {net.parameters:,} parameters, {human_count(net.macs)} multiply-adds per sample"
        )
    errors = len(report.errors)
    lines.append("\nOK: no errors" if not errors else f"\n{errors} error(s): fix them to train")
    return "\n".join(lines)


def check_json(file: str, report: CheckReport) -> dict:
    """`netcanvas check --json`: the report as plain data; shapes are lists, `null` the batch."""
    return {
        "file": file,
        "ok": report.ok,
        "errors": report.errors,
        "networks": {
            name: {
                "parameters": net.parameters,
                "macs": net.macs,
                "nodes": {
                    r.node_id: {"block": r.block, "outputs": {k: list(v) for k, v in r.outputs.items()},
                                "parameters": r.parameters, "errors": r.errors, "warnings": r.warnings}
                    for r in net.nodes.values()
                },
            }
            for name, net in report.networks.items()
        },
    }
