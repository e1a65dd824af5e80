"""Building blocks for small real-time CNNs.

Every block takes ``(in_chans, out_chans, stride, **options)`` so a spec can name it and a
stage loop can stack it; shapes are ``(B, C, H, W)`` throughout.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from moodreel.nn.reparam import BranchedSeparableConv, batchnorm_adding

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": nn.GELU,
}


def make_activation(name: str | None) -> nn.Module:
    if name is None or name == "none":
        return nn.Identity()
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` (never down by over 10%).

    Runtimes vectorise over channels in groups of 8 or 16; widths like 19 or 77 can make
    inference several times slower than 16 or 80 (measured with ONNX Runtime on one core).
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _padding(kernel: int, padding: int | str) -> int:
    if padding == "same":
        return kernel // 2
    if padding == "valid":
        return 0
    return int(padding)


#: oneDNN's channel block on AVX-512; strided 1x1 convolutions with fewer input channels
#: than this take the faulty path described in ``StridedPointwiseConv``.
ONEDNN_IC_BLOCK = 16


class StridedPointwiseConv(nn.Conv2d):
    """Bias-free strided 1x1 convolution; in training its stride may be taken by subsampling
    first.

    Both give the same numbers, but oneDNN's backward pass of a strided 1x1 convolution on
    channels-last inputs with fewer than 16 channels writes past its workspace
    (uxlfoundation/oneDNN#6035): with torch 2.13 on CPU a 64x64 mini-Xception segfaults on its
    first step. So layers with fewer input channels subsample first when training on
    channels-last inputs (about 5% of a width-1.0 mini-Xception training step, measured);
    evaluation and ONNX export keep the plain strided convolution.
    """

    def __init__(self, in_chans: int, out_chans: int, stride: int, groups: int = 1) -> None:
        super().__init__(in_chans, out_chans, 1, stride, 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (not self.training or self.in_channels >= ONEDNN_IC_BLOCK
                or not x.is_contiguous(memory_format=torch.channels_last)):
            return super().forward(x)
        step_h, step_w = self.stride
        return F.conv2d(x[:, :, ::step_h, ::step_w], self.weight, groups=self.groups)


class ConvBNAct(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> activation."""

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        stride: int = 1,
        kernel: int = 3,
        padding: int | str = "same",
        groups: int = 1,
        act: str | None = "relu",
    ) -> None:
        pad = _padding(kernel, padding)
        conv = (StridedPointwiseConv(in_chans, out_chans, stride, groups=groups)
                if kernel == 1 and pad == 0 and stride > 1 else
                nn.Conv2d(in_chans, out_chans, kernel, stride, pad, groups=groups, bias=False))
        super().__init__(
            conv,
            nn.BatchNorm2d(out_chans),
            make_activation(act),
        )


class SeparableConv(nn.Sequential):
    """Depthwise-separable conv: a per-channel ``kernel`` conv, then a 1x1 pointwise conv."""

    def __init__(self, in_chans: int, out_chans: int, stride: int = 1, kernel: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_chans, in_chans, kernel, stride, kernel // 2, groups=in_chans,
                      bias=False),
            nn.Conv2d(in_chans, out_chans, 1, bias=False),
        )


class SeparableConvBNAct(nn.Sequential):
    """Separable conv -> BatchNorm -> activation, a cheap stand-in for a full conv."""

    def __init__(
        self, in_chans: int, out_chans: int, stride: int = 1, kernel: int = 3,
        act: str | None = "relu",
    ) -> None:
        super().__init__(
            SeparableConv(in_chans, out_chans, stride, kernel),
            nn.BatchNorm2d(out_chans),
            make_activation(act),
        )

    @torch.no_grad()
    def load_folded(self, depthwise: torch.Tensor, pointwise: torch.Tensor,
                    bias: torch.Tensor) -> None:
        """Become ``act(pointwise(depthwise(x)) + bias)`` in eval mode: the form that
        ``BranchedSeparableConv.fold`` gives, its BatchNorm reduced to adding ``bias``."""
        separable, bn = self[0], self[1]
        separable[0].weight.copy_(depthwise)
        separable[1].weight.copy_(pointwise)
        bn.load_state_dict(batchnorm_adding(bn, bias), strict=False)  # keeps its step count


def separable_conv_bn_act(in_chans: int, out_chans: int, kernel: int = 3,
                          act: str | None = "relu", branches: int = 0) -> nn.Module:
    """A stride-1 separable conv-BN-activation; with ``branches`` its training-time
    over-parameterised form (``moodreel.nn.reparam``), which folds back into the plain one."""
    if branches < 0:
        raise ValueError(f"branches must be 0 (none) or more, got {branches}")
    if branches:
        return BranchedSeparableConv(in_chans, out_chans, kernel, branches,
                                     act=make_activation(act))
    return SeparableConvBNAct(in_chans, out_chans, 1, kernel, act=act)


class SqueezeExcite(nn.Module):
    """Channel attention: global pool -> bottleneck -> sigmoid gate (Hu et al. 2018)."""

    def __init__(self, chans: int, reduction: int = 4, min_hidden: int = 8) -> None:
        super().__init__()
        hidden = max(min_hidden, chans // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(chans, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, chans, 1),
            nn.Hardsigmoid(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class XceptionBlock(nn.Module):
    """Xception-style residual module of mini-Xception (Arriaga et al. 2017).

    Main path: SepConv-BN-ReLU, SepConv-BN, optional squeeze-excitation (``se``: its
    bottleneck is ``out_chans / se`` wide; 0 leaves it out), 3x3 max-pool with ``stride``.
    Shortcut: 1x1 conv with ``stride`` and BN. Output is their sum. ``branches`` > 0 trains
    each separable conv over-parameterised (``moodreel.nn.reparam``); ``SpecNet.deployed``
    folds them back.
    """

    def __init__(self, in_chans: int, out_chans: int, stride: int = 2, kernel: int = 3,
                 act: str = "relu", se: int = 0, branches: int = 0) -> None:
        super().__init__()
        self.main = nn.Sequential(
            separable_conv_bn_act(in_chans, out_chans, kernel, act, branches),
            separable_conv_bn_act(out_chans, out_chans, kernel, None, branches),
            SqueezeExcite(out_chans, reduction=se) if se else nn.Identity(),
            nn.MaxPool2d(3, stride, padding=1) if stride > 1 else nn.Identity(),
        )
        self.shortcut = ConvBNAct(in_chans, out_chans, stride, kernel=1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.shortcut(x)


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 inverted residual: 1x1 expand, depthwise, optional SE, 1x1 project.

    The identity shortcut is used when shape is unchanged (stride 1, same width).
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        stride: int = 1,
        kernel: int = 3,
        expand: float = 4.0,
        se: bool = False,
        act: str = "relu",
    ) -> None:
        super().__init__()
        hidden = max(1, round(in_chans * expand))
        layers: list[nn.Module] = []
        if hidden != in_chans:
            layers.append(ConvBNAct(in_chans, hidden, 1, kernel=1, act=act))
        layers.append(ConvBNAct(hidden, hidden, stride, kernel=kernel, groups=hidden, act=act))
        if se:
            layers.append(SqueezeExcite(hidden))
        layers.append(ConvBNAct(hidden, out_chans, 1, kernel=1, act=None))
        self.body = nn.Sequential(*layers)
        self.use_shortcut = stride == 1 and in_chans == out_chans

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.use_shortcut else out


class ResidualBlock(nn.Module):
    """ResNet's basic block (He et al. 2016): 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the input
    (or, where the shape changes, a strided 1x1 conv-BN of it), then ReLU.

    Full convolutions rather than separable ones: far over the real-time budget, it is for
    teachers of another family than the VGG ones (configs/specs/resnet_teacher.yaml).
    """

    def __init__(self, in_chans: int, out_chans: int, stride: int = 1, act: str = "relu") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvBNAct(in_chans, out_chans, stride, kernel=3, act=act),
            ConvBNAct(out_chans, out_chans, 1, kernel=3, act=None),
        )
        self.shortcut = (nn.Identity() if stride == 1 and in_chans == out_chans
                         else ConvBNAct(in_chans, out_chans, stride, kernel=1, act=None))
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class MaxPool(nn.MaxPool2d):
    """Max-pool as a block: keeps the width, reduces resolution by ``stride``."""

    def __init__(self, in_chans: int, out_chans: int, stride: int = 2, kernel: int = 2) -> None:
        if in_chans != out_chans:
            raise ValueError("a maxpool block cannot change the width")
        super().__init__(kernel, stride, padding=(kernel - 1) // 2 if kernel > 2 else 0)


#: Block names usable in specs.
BLOCKS: dict[str, type[nn.Module]] = {
    "conv": ConvBNAct,
    "sepconv": SeparableConvBNAct,
    "xception": XceptionBlock,
    "inverted_residual": InvertedResidual,
    "residual": ResidualBlock,
    "maxpool": MaxPool,
}
