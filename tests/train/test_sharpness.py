"""Sharpness-aware steps: the perturbation's arithmetic, and that a run trains with them."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.nn import create_model
from moodreel.train.config import TrainConfig
from moodreel.train.sharpness import perturbed
from tests.synthetic import make_faces
from tests.train.test_training import train_epochs


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(x), y)


def test_the_gradient_is_taken_rho_up_the_slope_and_the_weights_come_back():
    torch.manual_seed(0)
    model = create_model("simple_cnn_small").train()
    x, y = torch.randn(8, 1, 48, 48), torch.randint(0, 7, (8,))
    before = {k: v.clone() for k, v in model.named_parameters()}
    _loss(model, x, y).backward()
    gradient = {name: p.grad.clone() for name, p in model.named_parameters()}
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in gradient.values()]))

    with perturbed(model, rho=0.05):
        for name, p in model.named_parameters():  # moved 0.05 along the normalised gradient
            torch.testing.assert_close(p, before[name] + 0.05 * gradient[name] / norm)
        model.zero_grad()
        _loss(model, x, y).backward()
        inside = {name: p.grad.clone() for name, p in model.named_parameters()}

    for name, p in model.named_parameters():  # the weights as they were
        torch.testing.assert_close(p, before[name], rtol=0, atol=1e-6)
    assert not torch.allclose(inside["classifier.weight"], gradient["classifier.weight"])
    for name, p in model.named_parameters():  # the step will use the perturbed gradient
        torch.testing.assert_close(p.grad, inside[name])


def test_batchnorm_statistics_still_follow_the_first_pass():
    torch.manual_seed(0)
    model = create_model("simple_cnn_small").train()
    norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    start = norm.running_mean.clone()
    x, y = torch.randn(8, 1, 48, 48) + 3.0, torch.randint(0, 7, (8,))
    _loss(model, x, y).backward()
    moved, tracked = norm.running_mean.clone(), norm.num_batches_tracked.item()
    assert not torch.allclose(moved, start)
    with perturbed(model, rho=0.05):
        _loss(model, x, y).backward()
    torch.testing.assert_close(norm.running_mean, moved)
    assert norm.num_batches_tracked.item() == tracked == 1
    assert norm.momentum == pytest.approx(0.1)


def test_sharpness_aware_training_lowers_the_loss_at_twice_the_passes():
    torch.manual_seed(0)
    images, labels = make_faces(16, seed=1)
    model = create_model("simple_cnn_small")
    calls = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(1))
    losses = train_epochs(model, images, labels, 8, sam_rho=0.05)
    assert losses[-1] < losses[0] * 0.8
    assert len(calls) == 2 * 8 * (len(labels) // 16)  # two passes a batch of 16


def test_a_negative_radius_is_refused(folder_dataset):
    with pytest.raises(ValueError, match="sam_rho"):
        TrainConfig.from_dict({"sam_rho": -0.05})
    result = CliRunner().invoke(cli, ["train", "--data", str(folder_dataset),
                                      "--sam-rho", "-0.05"])
    assert result.exit_code != 0 and "sam_rho must be 0 (off) or positive" in result.output
    assert "Traceback" not in result.output
