"""Training-time branches that fold into one convolution for inference (MobileOne, Vasu et
al. 2023; RepVGG, Ding et al. 2021).

A network of under 100k parameters underfits FER-2013. Over-parameterising it only while it
trains gives the optimiser more to work with at no inference cost: here a depthwise-separable
conv trains as ``branches`` depthwise ``kernel`` convs, a depthwise 1x1 conv and the identity,
each with its own BatchNorm, summed; then ``branches`` pointwise convs (and the identity where
the widths match), each with its own BatchNorm, summed. In eval mode every branch is linear,
so the sums fold exactly into one depthwise conv, one pointwise conv and a bias: the
exported model has the plain block's structure, parameter count and speed.
"""

from __future__ import annotations

import torch
from torch import nn


def fold_batchnorm(kernel: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kernel, bias)`` of the convolution equal to ``bn(conv(x))`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


def batchnorm_adding(bn: nn.BatchNorm2d, bias: torch.Tensor) -> dict[str, torch.Tensor]:
    """The state under which ``bn`` computes ``x + bias`` in eval mode: what is left of a
    BatchNorm once it is folded into the conv before it."""
    # (x - 0) / sqrt((1 - eps) + eps) * 1 + bias == x + bias
    return {"weight": torch.ones_like(bias), "bias": bias,
            "running_mean": torch.zeros_like(bias),
            "running_var": torch.full_like(bias, 1.0 - bn.eps)}


def _conv_bn(conv: nn.Conv2d) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(conv.out_channels))


def _summed(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``(kernel, bias)`` for branches that are added: their kernels and biases summed."""
    return sum(w for w, _ in parts), sum(b for _, b in parts)


class BranchedDepthwise(nn.Module):
    """Sum of ``branches`` depthwise ``kernel`` convs, a depthwise 1x1 conv and the identity,
    each followed by its own BatchNorm (stride 1, so the identity always fits)."""

    def __init__(self, chans: int, kernel: int = 3, branches: int = 1) -> None:
        super().__init__()
        self.kernel = kernel
        self.convs = nn.ModuleList(
            _conv_bn(nn.Conv2d(chans, chans, kernel, 1, kernel // 2, groups=chans, bias=False))
            for _ in range(branches))
        self.scale = _conv_bn(nn.Conv2d(chans, chans, 1, groups=chans, bias=False))
        self.identity = nn.BatchNorm2d(chans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.scale(x) + self.identity(x)
        for branch in self.convs:
            out = out + branch(x)
        return out

    @torch.no_grad()
    def fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight (C, 1, k, k), bias (C,))`` of the one depthwise conv equal to this."""
        chans, pad = self.identity.num_features, self.kernel // 2
        parts = [fold_batchnorm(conv.weight, bn) for conv, bn in self.convs]
        scale_weight = self.scale[0].weight
        scale_kernel = scale_weight.new_zeros(chans, 1, self.kernel, self.kernel)
        scale_kernel[:, :, pad, pad] = scale_weight[:, :, 0, 0]
        parts.append(fold_batchnorm(scale_kernel, self.scale[1]))
        identity = scale_weight.new_zeros(chans, 1, self.kernel, self.kernel)
        identity[:, :, pad, pad] = 1.0
        parts.append(fold_batchnorm(identity, self.identity))
        return _summed(parts)


class BranchedPointwise(nn.Module):
    """Sum of ``branches`` 1x1 convs and, where ``in_chans == out_chans``, the identity, each
    followed by its own BatchNorm."""

    def __init__(self, in_chans: int, out_chans: int, branches: int = 1) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_conv_bn(nn.Conv2d(in_chans, out_chans, 1, bias=False))
                                   for _ in range(branches))
        self.identity = nn.BatchNorm2d(out_chans) if in_chans == out_chans else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.identity(x) if self.identity is not None else 0
        for branch in self.convs:
            out = out + branch(x)
        return out

    @torch.no_grad()
    def fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight (out, in, 1, 1), bias (out,))`` of the one 1x1 conv equal to this."""
        parts = [fold_batchnorm(conv.weight, bn) for conv, bn in self.convs]
        if self.identity is not None:
            chans = self.identity.num_features
            eye = torch.eye(chans, dtype=parts[0][0].dtype, device=parts[0][0].device)
            parts.append(fold_batchnorm(eye.reshape(chans, chans, 1, 1), self.identity))
        return _summed(parts)


class BranchedSeparableConv(nn.Module):
    """Training form of a separable conv-BN-activation; ``fold`` gives its inference form."""

    def __init__(self, in_chans: int, out_chans: int, kernel: int = 3, branches: int = 1,
                 act: nn.Module | None = None) -> None:
        super().__init__()
        self.depthwise = BranchedDepthwise(in_chans, kernel, branches)
        self.pointwise = BranchedPointwise(in_chans, out_chans, branches)
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.pointwise(self.depthwise(x)))

    @torch.no_grad()
    def fold(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(depthwise weight, pointwise weight, bias)`` of ``act(pw(dw(x)) + bias)``, equal
        to this module in eval mode: the depthwise bias goes through the 1x1 conv."""
        dw_weight, dw_bias = self.depthwise.fold()
        pw_weight, pw_bias = self.pointwise.fold()
        return dw_weight, pw_weight, pw_bias + pw_weight[:, :, 0, 0] @ dw_bias
