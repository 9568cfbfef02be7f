"""On-the-fly data augmentation for image batches, seeded like everything else.

Small random translations are the classic remedy for a CNN that memorises a
small image set (sklearn's 1,797 digits): each epoch sees the digits at
slightly different places, so the filters learn the strokes, not the pixels.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from engine.errors import NetCanvasError

OPTIONS = {"shift": "largest random translation in pixels, per sample (images only)"}


def check_augment(spec: dict[str, Any] | None) -> dict[str, Any]:
    spec = dict(spec or {})
    unknown = set(spec) - set(OPTIONS)
    if unknown:
        raise NetCanvasError(
            f"training.augment: unknown option '{sorted(unknown)[0]}' (known: {', '.join(OPTIONS)})"
        )
    shift = spec.get("shift", 0)
    if not isinstance(shift, int) or isinstance(shift, bool) or shift < 0:
        raise NetCanvasError(f"training.augment.shift: expected a whole number of pixels ≥ 0, got {shift!r}")
    return spec


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own whole-pixel offset in [-max_shift, max_shift], zero-filled."""
    if max_shift == 0 or images.dim() != 4:
        return images
    n, _, height, width = images.shape  # (N, C, H, W)
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator).to(images.device)
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = -2 * offsets[:, 0].to(images.dtype) / width
    theta[:, 1, 2] = -2 * offsets[:, 1].to(images.dtype) / height
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)
