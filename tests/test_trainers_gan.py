"""The GAN trainer: alternating updates, both losses, samples, shapes, seeds, failures."""

from __future__ import annotations

import numpy as np
import torch

from engine.data.base import ArrayDataset, DatasetEntry, register
from engine.data.splits import split_indices
from engine.document import Document
from engine.training import Epoch, Failed, Finished, Samples, Started, Step, make_trainer
from engine.training.gan import mode_coverage


def _small_ring(spec, seed):
    """Eight tight Gaussians on a circle of radius 2; y is the mode."""
    rng = np.random.default_rng(seed)
    mode = rng.integers(0, 8, 512)
    angle = 2 * np.pi * mode / 8
    x = 2.0 * np.stack([np.cos(angle), np.sin(angle)], 1) + rng.normal(0, 0.05, (512, 2))
    return ArrayDataset("test_ring", x.astype(np.float32), mode.astype(np.int64),
                        split_indices(512, seed, mode), 8)


def _tiny_images(spec, seed):
    """Bright squares in [0, 1], 1×6×6 (a perfect square's worth of pixels when flat)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((128, 1, 6, 6), dtype=np.float32)
    for i, (r, c) in enumerate(rng.integers(0, 4, (128, 2))):
        x[i, 0, r : r + 3, c : c + 3] = 1.0
    return ArrayDataset("test_squares", x, None, split_indices(128, seed))


register(DatasetEntry("test_ring", "8 Gaussians", "arrays", _small_ring, lambda s: {"x": (None, 2)}))
register(DatasetEntry("test_squares", "squares", "arrays", _tiny_images,
                      lambda s: {"x": (None, 1, 6, 6)}))


def _chain(doc: Document, name: str, blocks, input_params) -> None:
    net = doc.add_network(name)
    net.add_node("Input", input_params, node_id="inp")
    previous = "inp"
    for i, (block, params) in enumerate(blocks):
        net.add_node(block, params, node_id=f"b{i}")
        net.connect(f"{previous}.out", f"b{i}.in")
        previous = f"b{i}"
    net.add_node("Output", {}, node_id="out")
    net.connect(f"{previous}.out", "out.in")


def ring_gan(generator_out=(), discriminator_out=(("Sigmoid", {}),), **training) -> Document:
    doc = Document("gan")
    _chain(doc, "generator", [("Linear", {"out_features": 64}), ("ReLU", {}),
                              ("Linear", {"out_features": 2}), *generator_out],
           {"source": "noise", "shape": [8]})
    _chain(doc, "discriminator", [("Linear", {"out_features": 64}), ("LeakyReLU", {}),
                                  ("Linear", {"out_features": 1}), *discriminator_out],
           {"source": "x"})
    doc.training = {"task": "gan", "dataset": "test_ring", "epochs": 6, "batch_size": 64,
                    "seed": 0, "device": "cpu",
                    "optimizer": {"name": "adam", "lr": 0.002, "betas": [0.5, 0.999]}, **training}
    return doc


def image_gan(**training) -> Document:
    """The write-up's shape in miniature: flat MLPs, Tanh out, a flat discriminator Input."""
    doc = Document("gan")
    _chain(doc, "generator", [("Linear", {"out_features": 32}), ("ReLU", {}),
                              ("Linear", {"out_features": 36}), ("Tanh", {})],
           {"source": "noise", "shape": [10]})
    _chain(doc, "discriminator", [("Linear", {"out_features": 32}), ("LeakyReLU", {}),
                                  ("Dropout", {"p": 0.3}), ("Linear", {"out_features": 1}),
                                  ("Sigmoid", {})],
           {"source": "x", "shape": [36]})
    doc.training = {"task": "gan", "dataset": "test_squares", "epochs": 2, "batch_size": 32,
                    "seed": 0, "device": "cpu", "gan": {"optimizers": {
                        "generator": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]},
                        "discriminator": {"name": "sgd", "lr": 0.01}}}, **training}
    return doc


def run_all(doc, **options):
    return list(make_trainer(doc, **options).run())


def distance_to_ring(points: np.ndarray) -> float:
    return float(np.abs(np.linalg.norm(points, axis=1) - 2.0).mean())


def test_ring_gan_reports_both_losses_points_and_mode_coverage():
    doc = ring_gan()
    events = run_all(doc)
    assert isinstance(events[0], Started)
    assert set(events[0].parameters) == {"generator", "discriminator"}
    steps = [e for e in events if isinstance(e, Step)]
    assert len(steps) == 6 * 8
    assert all(set(s.losses) == {"generator", "discriminator"} for s in steps)
    assert all(s.loss == s.losses["generator"] for s in steps)
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert {"d_real", "d_fake"} <= set(epochs[-1].val)
    samples = [e for e in events if isinstance(e, Samples)]
    assert len(samples) == 6 and all(s.kind == "points" for s in samples)
    assert samples[0].images.shape == samples[0].inputs.shape == (512, 2)
    # The generator starts near the origin and moves out towards the ring.
    assert distance_to_ring(samples[-1].images) < distance_to_ring(samples[0].images) / 2
    metrics = events[-1].metrics
    assert isinstance(events[-1], Finished) and metrics["modes_total"] == 8
    assert 0 <= metrics["modes_covered"] <= 8 and 0.0 <= metrics["high_quality_fraction"] <= 1.0


def test_mode_coverage_counts_modes_within_three_sigma():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    real = centres[labels] + rng.normal(0, 0.1, (200, 2))
    half = centres[rng.integers(0, 2, 2500)] + rng.normal(0, 0.1, (2500, 2))  # modes 0 and 1
    result = mode_coverage(half, real, labels)
    assert result["modes_covered"] == 2 and result["modes_total"] == 4
    assert result["high_quality_fraction"] > 0.95
    assert mode_coverage(half + 5.0, real, labels)["modes_covered"] == 0


def test_image_gan_reshapes_scales_and_uses_per_network_optimizers():
    trainer = make_trainer(image_gan())
    events = list(trainer.run())
    assert isinstance(events[-1], Finished), events[-1]
    assert trainer.scaled and float(trainer.real.min()) == -1.0  # Tanh generator: data in [-1, 1]
    assert isinstance(trainer.optimizers["discriminator"], torch.optim.SGD)
    assert trainer.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)
    samples = [e for e in events if isinstance(e, Samples)]
    assert samples[-1].kind == "generated" and samples[-1].images.shape == (16, 1, 6, 6)
    assert samples[-1].images.min() >= 0.0 and samples[-1].images.max() <= 1.0
    # The noise is fixed, so two grids differ only by what the generator learned.
    again = [e for e in run_all(image_gan(epochs=1)) if isinstance(e, Samples)]
    assert np.array_equal(again[0].images, samples[0].images)


def test_gan_bce_logits_without_sigmoid_and_same_seed_same_weights():
    a, b = ring_gan((), (), loss="bce_logits", epochs=2), ring_gan((), (), epochs=2)
    events = run_all(a)
    run_all(b)  # no Sigmoid and no loss named: bce_logits is picked
    assert isinstance(events[-1], Finished), events[-1]
    for name in ("generator", "discriminator"):
        for key, value in a.weights[name].items():
            assert torch.equal(value, b.weights[name][key])


def test_gan_stop_ends_cleanly():
    trainer = make_trainer(ring_gan(epochs=50))
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Step) and event.step == 3:
            trainer.stop()
    assert isinstance(events[-1], Finished) and events[-1].stopped
    assert len([e for e in events if isinstance(e, Step)]) == 3
    assert "modes_covered" in events[-1].metrics


def test_gan_refuses_wrong_setups_with_clear_messages():
    doc = ring_gan()
    del doc.networks["discriminator"]
    failed = run_all(doc)[-1]
    assert isinstance(failed, Failed) and "'discriminator'" in failed.message
    no_sigmoid = run_all(ring_gan((), (), loss="bce"))[-1]
    assert isinstance(no_sigmoid, Failed) and "Sigmoid" in no_sigmoid.message
    wide = ring_gan()
    wide.network("generator").set_param("b2", "out_features", 3)
    failed = run_all(wide)[-1]
    assert isinstance(failed, Failed) and "2 values" in failed.message
    two_scores = ring_gan()
    two_scores.network("discriminator").set_param("b2", "out_features", 2)
    failed = run_all(two_scores)[-1]
    assert isinstance(failed, Failed) and "one score" in failed.message
