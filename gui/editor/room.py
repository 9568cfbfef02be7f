"""Make room: a card that grows (an error message, quick fixes) pushes the cards below it
down on the canvas, instead of covering them.

Only the drawing moves: the Document keeps the positions the person chose, and
the push goes back to zero when the message does. Only cards that grew or were
pushed can push others, so a 500-card graph with one error costs a short list.
"""

from __future__ import annotations

from dataclasses import dataclass

from gui.editor.geometry import CARD_WIDTH

GAP = 10.0  # scene pixels kept between a grown card and the card it pushed


@dataclass(frozen=True)
class Card:
    """A card as placed by the Document (scene pixels): its compact and its drawn height."""

    node_id: str
    x: float
    y: float
    compact: float  # height without messages
    height: float  # height as drawn now


def pushes(cards: list[Card]) -> dict[str, float]:
    """How far down each card must be drawn so no grown card covers one below it."""
    active: list[tuple[float, float, float]] = []  # (x, natural compact bottom, drawn bottom)
    result: dict[str, float] = {}
    for card in sorted(cards, key=lambda c: (c.y, c.x)):
        push = 0.0
        for x, natural_bottom, drawn_bottom in active:
            if abs(x - card.x) < CARD_WIDTH and natural_bottom <= card.y:
                push = max(push, drawn_bottom + GAP - card.y)
        if push > 0:
            result[card.node_id] = push
        drawn_bottom = card.y + push + card.height
        if drawn_bottom > card.y + card.compact + 0.5:  # grown or pushed: may push others
            active.append((card.x, card.y + card.compact, drawn_bottom))
    return result


__all__ = ["Card", "pushes"]
