"""Batched training augmentation on ``(B, 1, H, W)`` float tensors in [0, 1].

Everything is vectorised over the batch (one ``grid_sample`` for all geometric changes), so
augmentation costs a small fraction of a training step and runs on whatever device the
batch is on. Randomness comes from torch's global generator, which training seeds per epoch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from moodreel.data.fer2013 import FER_SIZE
from moodreel.train.config import AugmentConfig


def augment_batch(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """Flip, occluders, shift, rotate, scale, brightness/contrast, random erasing, blur."""
    b = x.shape[0]
    device = x.device
    if cfg.flip:
        flip = torch.rand(b, device=device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if cfg.occlude:  # before the geometry, so the occluder moves with the face
        x = _occlude(x, cfg.occlude)
    if cfg.shift or cfg.rotate or cfg.scale:
        x = _random_affine(x, cfg)
    if cfg.brightness or cfg.contrast:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        contrast = 1 + (torch.rand(b, 1, 1, 1, device=device) * 2 - 1) * cfg.contrast
        brightness = (torch.rand(b, 1, 1, 1, device=device) * 2 - 1) * cfg.brightness
        x = ((x - mean) * contrast + mean + brightness).clamp(0, 1)
    if cfg.erasing:
        x = _random_erasing(x, cfg.erasing)
    if cfg.blur:
        x = _random_blur(x, cfg.blur)
    return x


def _occlude(x: torch.Tensor, probability: float) -> torch.Tensor:
    """Dark glasses (two lenses over the eye line) on half of the chosen images, a light
    mask over mouth and chin on the other half; position, size and shade vary per image.
    The audit (``moodreel.train.audit``) draws one fixed version of each: these vary around
    it so the model learns to look past occluders, not one drawing of them."""
    b, _, h, w = x.shape
    device = x.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.empty(b, 1, 1, device=device).uniform_(low, high)

    rows = torch.arange(h, device=device, dtype=x.dtype)[None, :, None] / h
    cols = torch.arange(w, device=device, dtype=x.dtype)[None, None, :] / w
    eye_y, centre = uniform(0.32, 0.44), uniform(0.45, 0.55)
    spread, rx, ry = uniform(0.16, 0.22), uniform(0.11, 0.18), uniform(0.06, 0.10)
    lenses = torch.zeros(b, h, w, dtype=torch.bool, device=device)
    for side in (-1, 1):
        lenses |= (((cols - centre - side * spread) / rx) ** 2
                   + ((rows - eye_y) / ry) ** 2) <= 1
    glasses_shade = uniform(0.0, 0.25)
    top, half_width = uniform(0.58, 0.70), uniform(0.30, 0.42)
    mask = (rows >= top) & ((cols - centre).abs() <= half_width)
    mask_shade = uniform(0.6, 0.95)
    chosen = torch.rand(b, 1, 1, device=device) < probability
    use_glasses = torch.rand(b, 1, 1, device=device) < 0.5
    region = torch.where(use_glasses, lenses, mask) & chosen
    shade = torch.where(use_glasses, glasses_shade, mask_shade)
    return torch.where(region[:, None], shade[:, None].expand_as(x), x)


def _random_blur(x: torch.Tensor, probability: float) -> torch.Tensor:
    """Gaussian blur of the chosen images, sigma uniform in 0.5-2 pixels of a 48-pixel face
    (FER-2013's size: a soft webcam), scaled with the input, as two separable per-image
    convolutions."""
    b, c, h, w = x.shape
    scale = max(h, w) / FER_SIZE
    sigma = torch.empty(b, device=x.device).uniform_(0.5 * scale, 2.0 * scale)
    radius = math.ceil(4 * scale)   # two of the widest sigma
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma[:, None]) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)            # (B, 2 * radius + 1)
    planes = x.reshape(1, b * c, h, w)
    weights = kernel.repeat_interleave(c, dim=0)
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode="replicate"),
                      weights[:, None, None, :], groups=b * c)
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode="replicate"),
                      weights[:, None, :, None], groups=b * c)
    chosen = (torch.rand(b, device=x.device) < probability)[:, None, None, None]
    return torch.where(chosen, planes.reshape(b, c, h, w), x)


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
