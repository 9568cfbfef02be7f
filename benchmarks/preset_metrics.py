"""Metrics a preset's trainer cannot compute alone, e.g. whether GAN digits are recognisable."""

from __future__ import annotations

import torch

from engine.compiler import compile_network
from engine.document import Document

CONFIDENT = 0.9


@torch.no_grad()
def recognisable_fraction(gan: Document, classifier: Document, count: int = 256, seed: int = 0) -> dict:
    """Share of generated images a trained digit classifier labels with ≥ 90% confidence.

    A stand-in for "a person recognises the digits": a blurry or nonsense sample gets a
    spread-out prediction. The number of distinct labels shows the samples are not one digit.
    """
    generator = compile_network(gan, "generator").eval()
    judge = compile_network(classifier, "main").eval()
    noise_shape = gan.network("generator").nodes["noise"].resolved_params()["shape"]
    torch.manual_seed(seed)
    images = generator(torch.randn(count, *noise_shape)).reshape(count, 1, 28, 28)
    images = (images + 1) / 2  # tanh's [-1, 1] back to the classifier's [0, 1]
    probabilities = judge(images).exp()  # the LeNet preset ends in LogSoftmax
    confidence, labels = probabilities.max(dim=1)
    return {"recognisable_fraction": float((confidence >= CONFIDENT).float().mean()),
            "distinct_digits": int(labels[confidence >= CONFIDENT].unique().numel())}


def extra_metrics(name: str, doc: Document, trained: dict[str, Document]) -> dict:
    if name == "gan_digits" and "lenet_digits" in trained:
        return recognisable_fraction(doc, trained["lenet_digits"])
    return {}
