"""Exponential moving average of the weights, evaluated and saved in place of the raw ones.

Small batches make the last steps' weights noisy; an average over the last ``1 / (1 -
decay)`` steps is usually at least as accurate and costs one ``lerp`` per step.
``torch.optim.swa_utils.AveragedModel`` keeps the average; BatchNorm statistics are
averaged too (``use_buffers``), so the averaged model needs no extra pass over the data.
"""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def weight_average(model: nn.Module, decay: float) -> AveragedModel:
    """An averaged copy of ``model``; call ``update_parameters(model)`` after every step."""
    if not 0 < decay < 1:
        raise ValueError(f"ema_decay must be in (0, 1) to average, got {decay}")
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
