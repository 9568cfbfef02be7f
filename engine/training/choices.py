"""The names the Training form offers, apart from the torch code that implements them.

The editor reads them while the window is being built, before PyTorch has
loaded in the background; `engine.training.setup` maps each name to torch.
"""

from __future__ import annotations

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LOSSES = ("cross_entropy", "nll", "mse", "bce", "bce_logits", "l1")
SCHEDULES = ("none", "step", "cosine", "exponential")
