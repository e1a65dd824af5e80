"""Batched training augmentation on ``(B, 1, H, W)`` float tensors in [0, 1].

Everything is vectorised over the batch (one ``grid_sample`` for all geometric changes), so
augmentation costs a small fraction of a training step and runs on whatever device the
batch is on. Randomness comes from torch's global generator, which training seeds per epoch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from moodreel.train.config import AugmentConfig


def augment_batch(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """Flip, shift, rotate, scale, brightness/contrast and random erasing."""
    b = x.shape[0]
    device = x.device
    if cfg.flip:
        flip = torch.rand(b, device=device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if cfg.shift or cfg.rotate or cfg.scale:
        x = _random_affine(x, cfg)
    if cfg.brightness or cfg.contrast:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        contrast = 1 + (torch.rand(b, 1, 1, 1, device=device) * 2 - 1) * cfg.contrast
        brightness = (torch.rand(b, 1, 1, 1, device=device) * 2 - 1) * cfg.brightness
        x = ((x - mean) * contrast + mean + brightness).clamp(0, 1)
    if cfg.erasing:
        x = _random_erasing(x, cfg.erasing)
    return x


def _random_affine(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    b = x.shape[0]
    device = x.device

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(b, device=device) * 2 - 1) * limit

    angle = uniform(math.radians(cfg.rotate))
    zoom = 1 + uniform(cfg.scale)
    # affine_grid maps output to input coordinates in [-1, 1]: a shift of 2*f moves by f sides.
    tx, ty = uniform(2 * cfg.shift), uniform(2 * cfg.shift)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _random_erasing(x: torch.Tensor, probability: float) -> torch.Tensor:
    """Replace one random rectangle (2-25% of the area) per chosen image with noise."""
    b, _, h, w = x.shape
    device = x.device
    area = torch.empty(b, device=device).uniform_(0.02, 0.25) * h * w
    aspect = torch.exp(torch.empty(b, device=device).uniform_(math.log(0.3), math.log(3.3)))
    eh = (area * aspect).sqrt().clamp(1, h)
    ew = (area / aspect).sqrt().clamp(1, w)
    top = torch.rand(b, device=device) * (h - eh)
    left = torch.rand(b, device=device) * (w - ew)
    rows = torch.arange(h, device=device)[None, :, None]
    cols = torch.arange(w, device=device)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
    chosen = (torch.rand(b, device=device) < probability)[:, None, None]
    mask = (inside & chosen)[:, None]  # (B, 1, H, W)
    return torch.where(mask, torch.rand_like(x), x)


def mix_batch(
    x: torch.Tensor, targets: torch.Tensor, cfg: AugmentConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or cutmix (one, chosen at random when both are on) with soft ``targets`` (B, K)."""
    modes = [m for m in ("mixup", "cutmix") if getattr(cfg, m) > 0]
    if not modes or torch.rand(()) >= cfg.mix_prob:
        return x, targets
    mode = modes[int(torch.randint(len(modes), ()))]
    alpha = getattr(cfg, mode)
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0], device=x.device)
    if mode == "mixup":
        mixed = lam * x + (1 - lam) * x[perm]
    else:
        h, w = x.shape[-2:]
        cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
        y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        mixed = x.clone()
        mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually pasted
    return mixed, lam * targets + (1 - lam) * targets[perm]
