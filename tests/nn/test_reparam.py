"""Training-time branches (``moodreel.nn.reparam``) fold into the plain blocks exactly."""

from __future__ import annotations

import pytest
import torch

from moodreel.nn import create_model
from moodreel.nn.layers import SeparableConvBNAct, XceptionBlock
from moodreel.nn.profile import count_params, profile_model
from moodreel.nn.reparam import BranchedSeparableConv


def _trained_a_little(module: torch.nn.Module, shape: tuple[int, ...]) -> torch.nn.Module:
    """BatchNorm statistics and affine parameters far from their initial identity, as after
    training, so that a wrong fold shows."""
    torch.manual_seed(0)
    with torch.no_grad():
        for bn in (m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
        module.train()
        for _ in range(3):
            module(torch.randn(*shape) * 3 + 1)
    return module.eval()


@pytest.mark.parametrize(("in_chans", "out_chans", "branches"), [(8, 16, 1), (16, 16, 3)])
def test_a_branched_separable_conv_folds_into_the_plain_one(in_chans, out_chans, branches):
    branched = _trained_a_little(
        BranchedSeparableConv(in_chans, out_chans, 3, branches, act=torch.nn.ReLU()),
        (4, in_chans, 10, 10))
    plain = SeparableConvBNAct(in_chans, out_chans, 1, 3).eval()
    plain.load_folded(*branched.fold())
    x = torch.randn(2, in_chans, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), branched(x), atol=1e-5, rtol=1e-5)
    assert count_params(branched) > count_params(plain)


def test_the_identity_branch_exists_only_where_widths_match():
    assert BranchedSeparableConv(16, 16, branches=1).pointwise.identity is not None
    assert BranchedSeparableConv(8, 16, branches=1).pointwise.identity is None


def test_xception_block_trains_branched_separable_convs_when_asked():
    plain, branched = XceptionBlock(8, 16), XceptionBlock(8, 16, branches=2)
    assert isinstance(branched.main[0], BranchedSeparableConv)
    assert isinstance(plain.main[0], SeparableConvBNAct)
    assert len(branched.main[1].depthwise.convs) == 2
    assert count_params(branched) > count_params(plain)
    with pytest.raises(ValueError, match="branches"):
        XceptionBlock(8, 16, branches=-1)


def test_a_deployed_model_computes_the_same_with_the_plain_architecture():
    model = _trained_a_little(create_model("mini_xception", se=8, branches=2), (8, 1, 48, 48))
    deployed = model.deployed()
    plain = create_model("mini_xception", se=8)
    assert count_params(deployed) == count_params(plain) < count_params(model)
    assert deployed.spec == plain.spec
    assert deployed.config["kwargs"] == {"se": 8}
    assert not any(isinstance(m, BranchedSeparableConv) for m in deployed.modules())
    x = torch.randn(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), model(x), atol=1e-4, rtol=1e-4)


def test_a_model_without_branches_deploys_as_itself():
    model = create_model("mini_xception")
    assert model.deployed() is model
    assert model.training  # and left as it was


def test_profile_reports_the_deployed_size():
    branched = profile_model(create_model("mini_xception", branches=1), latency=False)
    assert branched["params"] == count_params(create_model("mini_xception"))
