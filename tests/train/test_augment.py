from __future__ import annotations

import dataclasses

import torch

from moodreel.train.augment import augment_batch, mix_batch
from moodreel.train.config import AugmentConfig

OFF = AugmentConfig(flip=False, shift=0, rotate=0, scale=0, brightness=0, contrast=0)


def test_no_augmentation_is_identity():
    x = torch.rand(8, 1, 48, 48)
    assert torch.equal(augment_batch(x, OFF), x)


def test_default_augmentation_keeps_shape_and_range_and_changes_images():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 48, 48)
    y = augment_batch(x, AugmentConfig(erasing=0.5))
    assert y.shape == x.shape
    assert y.min() >= 0 and y.max() <= 1
    changed = (y - x).abs().flatten(1).max(1).values > 1e-3
    assert changed.float().mean() > 0.9


def test_flip_mirrors_some_images_exactly():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 8, 8)
    cfg = AugmentConfig(flip=True, shift=0, rotate=0, scale=0, brightness=0, contrast=0)
    y = augment_batch(x, cfg)
    flipped = [torch.equal(y[i], x[i].flip(-1)) for i in range(32)]
    kept = [torch.equal(y[i], x[i]) for i in range(32)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 4 < sum(flipped) < 28


def test_shift_moves_content():
    x = torch.zeros(1, 1, 20, 20)
    x[..., 8:12, 8:12] = 1
    cfg = AugmentConfig(flip=False, shift=0.2, rotate=0, scale=0, brightness=0, contrast=0)
    torch.manual_seed(3)
    moved = [augment_batch(x, cfg) for _ in range(5)]
    assert any(not torch.allclose(m, x, atol=0.1) for m in moved)


def test_mixup_and_cutmix_make_soft_targets_that_sum_to_one():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 16, 16)
    targets = torch.nn.functional.one_hot(torch.arange(8) % 7, 7).float()
    for cfg in (AugmentConfig(mixup=0.4), AugmentConfig(cutmix=1.0)):
        mixed, soft = mix_batch(x, targets, cfg)
        assert mixed.shape == x.shape
        torch.testing.assert_close(soft.sum(1), torch.ones(8))
        assert (soft.max(1).values < 1).any()


def test_mixing_off_returns_inputs_untouched():
    x = torch.rand(4, 1, 8, 8)
    targets = torch.eye(7)[:4]
    mixed, soft = mix_batch(x, targets, AugmentConfig())
    assert mixed is x and soft is targets


def test_occluders_cover_the_eyes_or_the_mouth_and_nothing_else():
    torch.manual_seed(0)
    x = torch.full((64, 1, 48, 48), 0.5)
    y = augment_batch(x, dataclasses.replace(OFF, occlude=1.0))
    changed = (y != x)[:, 0]
    assert changed.flatten(1).any(1).all(), "every image gets an occluder at probability 1"
    glasses = changed[:, 10:26].flatten(1).any(1) & ~changed[:, 27:].flatten(1).any(1)
    masks = changed[:, 27:].flatten(1).any(1) & ~changed[:, :26].flatten(1).any(1)
    assert (glasses | masks).all() and 16 < glasses.sum() < 48
    assert not changed[:, :8].any(), "the forehead is never covered"


def test_blur_softens_edges_and_keeps_flat_images():
    torch.manual_seed(0)
    x = torch.zeros(8, 1, 48, 48)
    x[..., :, 24:] = 1
    y = augment_batch(x, dataclasses.replace(OFF, blur=1.0))
    assert (y[..., 23] > 0.05).all() and (y[..., 24] < 0.95).all()
    flat = torch.full((4, 1, 48, 48), 0.3)
    assert torch.allclose(augment_batch(flat, dataclasses.replace(OFF, blur=1.0)), flat)


def test_blur_scales_with_the_input_size():
    """A 192-pixel face is blurred as much as its 96-pixel self: twice the pixels."""
    spreads = []   # how far a row strays from the sharp edge: proportional to sigma
    for side in (96, 192):
        torch.manual_seed(0)
        x = torch.zeros(8, 1, side, side)
        x[..., :, side // 2:] = 1
        y = augment_batch(x, dataclasses.replace(OFF, blur=1.0))
        spreads.append((y - x)[:, 0, 0].abs().sum(dim=1))
    assert torch.allclose(spreads[1] / spreads[0], torch.full((8,), 2.0), atol=0.1)
