from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from moodreel.nn.layers import (
    ConvBNAct,
    InvertedResidual,
    ResidualBlock,
    SeparableConv,
    StridedPointwiseConv,
    XceptionBlock,
)
from moodreel.nn.profile import count_macs, count_params, profile_model


def test_xception_block_halves_resolution_and_sums_a_shortcut():
    block = XceptionBlock(8, 16, stride=2).eval()
    x = torch.randn(1, 8, 12, 12)
    out = block(x)
    assert out.shape == (1, 16, 6, 6)
    assert torch.allclose(out, block.main(x) + block.shortcut(x))
    assert isinstance(block.main[-1], torch.nn.MaxPool2d)


def test_xception_block_squeeze_excitation_gates_the_main_path_only():
    plain, gated = XceptionBlock(16, 32, stride=2), XceptionBlock(16, 32, stride=2, se=8)
    assert count_params(gated) - count_params(plain) == (32 * 8 + 8) + (8 * 32 + 32)
    gated.load_state_dict(plain.state_dict(), strict=False)  # same convs, plus a gate
    gated.eval()
    plain.eval()
    x = torch.randn(2, 16, 12, 12)
    assert gated(x).shape == plain(x).shape == (2, 32, 6, 6)
    torch.testing.assert_close(gated.shortcut(x), plain.shortcut(x))
    assert not torch.allclose(gated(x), plain(x))
    main = gated.main[:2](x)
    gate = gated.main[2].gate(main)
    assert gate.shape == (2, 32, 1, 1) and gate.min() >= 0 and gate.max() <= 1


def test_separable_conv_is_cheaper_than_a_full_conv():
    separable = SeparableConv(32, 64)
    full = torch.nn.Conv2d(32, 64, 3, padding=1, bias=False)
    assert count_params(separable) == 32 * 9 + 32 * 64
    assert count_params(separable) < count_params(full) / 5


def test_inverted_residual_uses_identity_only_when_shapes_match():
    same = InvertedResidual(16, 16, stride=1, se=True)
    assert same.use_shortcut
    assert not InvertedResidual(16, 24, stride=1).use_shortcut
    assert not InvertedResidual(16, 16, stride=2).use_shortcut
    assert InvertedResidual(16, 24, stride=2)(torch.randn(2, 16, 8, 8)).shape == (2, 24, 4, 4)


def test_residual_block_adds_its_input_or_a_projection_of_it():
    same = ResidualBlock(16, 16).eval()
    x = torch.randn(2, 16, 8, 8)
    assert isinstance(same.shortcut, nn.Identity)
    torch.testing.assert_close(same(x), torch.relu(same.body(x) + x))
    down = ResidualBlock(16, 32, stride=2).eval()
    assert isinstance(down.shortcut, ConvBNAct)
    out = down(x)
    assert out.shape == (2, 32, 4, 4) and out.min() >= 0
    torch.testing.assert_close(out, torch.relu(down.body(x) + down.shortcut(x)))


def test_count_macs_of_a_single_conv():
    class Net(torch.nn.Module):
        in_chans = 1

        def __init__(self):
            super().__init__()
            self.body = ConvBNAct(1, 4, kernel=3)

        def forward(self, x):
            return self.body(x)

    # output 4x10x10, each output element costs 1 * 3 * 3 multiply-accumulates
    assert count_macs(Net(), input_size=10) == 4 * 10 * 10 * 9


def test_profile_reports_size_and_latency():
    from moodreel.nn import create_model

    result = profile_model(create_model("mini_xception"), 48, threads=1)
    assert result["params"] == count_params(create_model("mini_xception"))
    assert result["macs"] > 1_000_000
    for engine in ("torch", "onnxruntime"):
        assert set(result["latency_ms"][engine]) == {"batch_1", "batch_32"}
        assert all(ms > 0 for ms in result["latency_ms"][engine].values())


@pytest.mark.parametrize("in_chans", [8, 16])
def test_pointwise_conv_in_training_equals_the_strided_conv(in_chans: int) -> None:
    torch.manual_seed(0)
    ours = StridedPointwiseConv(in_chans, 16, stride=2).train()
    plain = nn.Conv2d(in_chans, 16, 1, 2, bias=False)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(4, in_chans, 15, 14)
    outputs, grads = [], []
    for conv, memory_format in ((ours, torch.channels_last), (plain, torch.contiguous_format)):
        xi = x.clone().to(memory_format=memory_format).requires_grad_()
        out = conv(xi)
        (out * torch.arange(out.numel()).reshape(out.shape).sin()).sum().backward()
        outputs.append(out.detach())
        grads += [xi.grad, conv.weight.grad]
    assert outputs[0].shape == (4, 16, 8, 7)
    torch.testing.assert_close(outputs[0], outputs[1])
    # oneDNN's backward kernels sum in their own order and, run after other tests, once
    # differed by 1.3e-4 (values up to ~2); a wrong stride or offset differs by ~1.
    torch.testing.assert_close(grads[0], grads[2], atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(grads[1], grads[3], atol=1e-3, rtol=1e-3)


def test_a_64_pixel_mini_xception_trains_channels_last() -> None:
    """The oneDNN fault StridedPointwiseConv avoids kills the process, so it runs in a child."""
    code = (
        "import torch\n"
        "from moodreel.nn import create_model\n"
        "model = create_model('mini_xception').to(memory_format=torch.channels_last)\n"
        "x = torch.randn(64, 1, 64, 64).to(memory_format=torch.channels_last)\n"
        "model(x).sum().backward()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
