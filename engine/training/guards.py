"""What ends a run as failed although nothing crashed: a non-finite or an exploding loss.

Both keep the last good weights (the base restores its snapshot) and read like
one another, so a person meets one kind of message for one kind of problem.
"""

from __future__ import annotations

from engine.errors import NetCanvasError

# A sane run starts at about its highest loss, so a loss 1000x its first value is far beyond
# noise, schedules or warm restarts: with accuracy at chance, that is divergence. A million
# times is divergence whatever the accuracy: at lr 1e30 an MLP on iris keeps 73% accuracy
# by luck while its loss is 1e30.
EXPLOSION_FACTOR = 1e3
RUNAWAY_FACTOR = 1e6
EXPLOSION_FLOOR = 1e-3  # a run that starts near zero loss is judged against this instead


class TrainingStopped(NetCanvasError):
    """A guard ended the run; `step` is where, and the last good weights are kept."""

    step: int


class NonFiniteLoss(TrainingStopped):
    """The loss became NaN or infinite; the run stops, keeping the last finite weights."""

    def __init__(self, step: int, epoch: int, value: float) -> None:
        self.step = step
        super().__init__(
            f"the loss became {value} at step {step} (epoch {epoch}); training stopped and the "
            "last weights with a finite loss are kept. Try a lower learning rate, or check the "
            "data and the loss for values out of range"
        )


class Diverged(TrainingStopped):
    """The loss stayed finite but exploded relative to its start: the run diverged."""

    def __init__(self, step: int, epoch: int, loss: float, start: float, why: str) -> None:
        self.step = step
        super().__init__(
            f"the loss diverged: {loss:.4g} in epoch {epoch} (step {step}) against {start:.4g} "
            f"at the start{why}; training stopped and the last good weights (before epoch "
            f"{epoch}) are kept. Try a lower learning rate"
        )


def exploded(loss: float, start: float, accuracy: float | None, chance: float | None) -> bool:
    """True when `loss` ran away from the run's first loss (see the factors above).

    The accuracy condition keeps a classifier whose cross-entropy grows from
    over-confidence but still predicts well from being called diverged.
    """
    reference = max(start, EXPLOSION_FLOOR)
    if not loss > EXPLOSION_FACTOR * reference:
        return False
    if loss > RUNAWAY_FACTOR * reference or accuracy is None or chance is None:
        return True
    return accuracy <= chance + 0.25 * (1.0 - chance)
