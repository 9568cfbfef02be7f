"""Document units versus scene pixels, and the card metrics the items share.

Node positions live in the Document in document units (the presets space
columns 180 units apart, as DESIGN.md's example does). The canvas draws them
`SCALE` times larger so that a card plus an edge with its shape label fits in
one column. This is a pure mapping: the Document stays the only truth.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF

SCALE = 1.35  # scene pixels per document unit
GRID = 10.0  # snapping step, document units
GRID_PIXELS = GRID * SCALE * 2  # drawn grid step, scene pixels

CARD_WIDTH = 170.0  # scene pixels
HEADER = 26.0
ROW = 17.0
PAD = 6.0
PORT_RADIUS = 5.0
COLUMN = 180.0  # auto-layout column pitch, document units
ROW_GAP = 30.0  # auto-layout vertical gap between cards, document units


def to_scene(pos: tuple[float, float]) -> QPointF:
    return QPointF(pos[0] * SCALE, pos[1] * SCALE)


def to_doc(point: QPointF) -> tuple[float, float]:
    return (round(point.x() / SCALE, 2), round(point.y() / SCALE, 2))


def snap(pos: tuple[float, float], enabled: bool = True) -> tuple[float, float]:
    """Round a document position to the grid (when snapping is on)."""
    if not enabled:
        return (round(pos[0], 2), round(pos[1], 2))
    return (round(pos[0] / GRID) * GRID, round(pos[1] / GRID) * GRID)
