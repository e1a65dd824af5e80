"""Generated from the registry: every model builds, runs, and trains."""

from __future__ import annotations

import pytest
import torch

from moodreel.nn import SpecNet, create_model, list_models, load_spec, model_from_config
from moodreel.nn.layers import SqueezeExcite
from tests.bad_files import assert_refuses_bad_yaml

ALL_MODELS = list_models()


def test_registry_lists_the_builtin_families():
    for name in ("mini_xception", "simple_cnn", "mobile_emotion"):
        assert name in ALL_MODELS


@pytest.mark.parametrize("name", ALL_MODELS)
@pytest.mark.parametrize("size", [48, 64])
def test_forward_backward(name, size):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.randn(3, 1, size, size)
    logits = model(x)
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(param.grad).all(), f"{name}: non-finite gradient for {pname}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", ALL_MODELS)
def test_shared_interface(name):
    model = create_model(name, num_classes=4, in_chans=3)
    features = model.forward_features(torch.randn(2, 3, 48, 48))
    assert features.shape[:2] == (2, model.num_features)
    assert model.forward_head(features).shape == (2, 4)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_config_rebuilds_the_same_model(name):
    model = create_model(name).eval()
    clone = model_from_config(model.config).eval()
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 48, 48)
    assert torch.equal(model(x), clone(x))
    assert clone.config["name"] == name


def test_mini_xception_matches_the_paper():
    model = create_model("mini_xception")
    params = sum(p.numel() for p in model.parameters())
    assert 55_000 <= params <= 62_000
    stem_convs = [m for m in model.stem.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in stem_convs] == [8, 8]
    widths = [stage.shortcut[0].out_channels for stage in model.stages]
    assert widths == [16, 32, 64, 128]
    assert isinstance(model.classifier, torch.nn.Conv2d)
    assert model.classifier.kernel_size == (3, 3)


def test_width_and_depth_variants_scale():
    base = sum(p.numel() for p in create_model("mini_xception").parameters())
    wide = sum(p.numel() for p in create_model("mini_xception_w2").parameters())
    deep = sum(p.numel() for p in create_model("mini_xception_deep").parameters())
    assert wide > 3 * base
    assert deep > base
    assert len(create_model("mini_xception_deep").stages) == 8
    gated = sum(p.numel() for p in create_model("mini_xception", width=1.25, se=8).parameters())
    assert gated == 96_837  # configs/mini_xception_w125_se.yaml: under the 100k budget


def test_the_activation_replaces_relu_outside_the_gates():
    model = create_model("mini_xception", se=8, act="silu")
    gates = {id(m) for gate in model.modules() if isinstance(gate, SqueezeExcite)
             for m in gate.modules()}
    outside = [m for m in model.modules() if id(m) not in gates]
    assert sum(isinstance(m, torch.nn.SiLU) for m in outside) == 6  # 2 stem convs, 4 modules
    assert not any(isinstance(m, torch.nn.ReLU) for m in outside)
    plain = sum(p.numel() for p in create_model("mini_xception", se=8).parameters())
    assert sum(p.numel() for p in model.parameters()) == plain
    assert model(torch.randn(2, 1, 48, 48)).shape == (2, 7)


def test_dropout_changes_train_mode_output():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 48, 48)
    with_dropout = create_model("mini_xception", dropout=0.5).train()
    assert not torch.equal(with_dropout(x), with_dropout(x))
    without = create_model("mini_xception", dropout=0.0).train()
    assert torch.equal(without(x), without(x))
    with_dropout.eval()
    assert torch.equal(with_dropout(x), with_dropout(x))


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(KeyError, match="mini_xception"):
        create_model("no_such_model")


def test_spec_round_trip_through_yaml(tmp_path):
    model = create_model("mobile_emotion")
    import yaml

    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(model.spec))
    rebuilt = create_model(path)
    assert isinstance(rebuilt, SpecNet)
    assert rebuilt.spec == model.spec
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 48, 48)
    assert torch.equal(model.eval()(x), rebuilt.eval()(x))


def test_spec_dict_builds_a_new_design():
    spec = {
        "name": "tiny",
        "stem": [{"block": "conv", "width": 8, "stride": 2}],
        "stages": [
            {"block": "sepconv", "width": 16},
            {"block": "inverted_residual", "width": 16, "stride": 1, "repeats": 2, "se": True},
            {"block": "xception", "width": 32, "stride": 2},
            {"block": "maxpool", "stride": 2},
        ],
        "head": {"type": "linear", "hidden": 16, "dropout": 0.1},
    }
    model = create_model(spec)
    assert model(torch.randn(2, 1, 48, 48)).shape == (2, 7)
    assert model.config["name"] == "tiny"
    assert len(model.stages) == 5  # repeats expand into blocks


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"stages": []}, "non-empty 'stages'"),
        ({"stages": [{"block": "nope", "width": 8}]}, r"stages\[0\]: unknown block 'nope'"),
        ({"stages": [{"block": "conv"}]}, r"stages\[0\]: 'width'"),
        ({"stages": [{"block": "conv", "width": 8, "expand": 4}]}, "no option"),
        ({"stages": [{"block": "conv", "width": 8, "stride": 0}]}, "positive integer"),
        ({"stages": [{"block": "conv", "width": 8}], "head": {"type": "mlp"}}, "head"),
        ({"stages": [{"block": "conv", "width": 8}], "extra": 1}, "unknown spec key"),
    ],
)
def test_bad_specs_say_where(spec, message):
    from moodreel.nn import SpecError

    with pytest.raises(SpecError, match=message):
        load_spec(spec)


def test_unreadable_spec_files_say_why(tmp_path):
    from moodreel.nn import SpecError

    assert_refuses_bad_yaml(load_spec, tmp_path / "spec.yaml", SpecError)


def test_example_configs_build():
    from pathlib import Path

    specs = sorted((Path(__file__).resolve().parents[2] / "configs" / "specs").glob("*.yaml"))
    assert specs, "configs/specs should hold example architectures"
    for path in specs:
        model = create_model(path)
        assert model(torch.randn(1, 1, 48, 48)).shape == (1, 7)
