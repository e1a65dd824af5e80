"""Sharpness-aware minimisation (SAM; Foret et al., ICLR 2021).

Each step takes its gradient at the worst weights within ``rho`` of the current ones (to a
first order: one step of length ``rho`` up the gradient) and applies it at the current
weights, so training prefers minima whose neighbourhood is flat too. That is reported to
help most on small, noisily labelled data such as FER-2013; it costs a second forward and
backward pass per step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextlib.contextmanager
def perturbed(model: nn.Module, rho: float) -> Iterator[None]:
    """Within the block the weights are moved ``rho`` along their gradient (the one left
    by the last backward pass, which the caller then replaces) and BatchNorm's running
    statistics are frozen, so the second pass on the same batch does not count it twice. On
    leaving, the weights are put back; their gradients are the perturbed pass's."""
    params = [p for p in model.parameters() if p.grad is not None]
    with torch.no_grad():
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        steps = [p.grad * (rho / (norm + 1e-12)) for p in params]
        for param, step in zip(params, steps, strict=True):
            param.add_(step)
    try:
        with _statistics_frozen(model):
            yield
    finally:
        with torch.no_grad():
            for param, step in zip(params, steps, strict=True):
                param.sub_(step)


@contextlib.contextmanager
def _statistics_frozen(model: nn.Module) -> Iterator[None]:
    """BatchNorm layers normalise by the batch as in training, but their running statistics
    and batch counts stay as they are."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    kept = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone())
            for m in norms]
    for module in norms:
        module.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for module, (momentum, tracked) in zip(norms, kept, strict=True):
            module.momentum = momentum
            if tracked is not None:
                module.num_batches_tracked.copy_(tracked)
