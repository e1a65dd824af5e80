"""Build a CNN from a declarative spec (a dict or a YAML file), no Python needed.

A spec names a stem and stages as lists of ``{block, width, stride, repeats, **options}``
(the first block of a group gets ``stride``, the rest stride 1) and a head::

    name: tiny_se
    stem:
      - {block: conv, width: 16, stride: 2}
    stages:
      - {block: inverted_residual, width: 24, stride: 2, repeats: 2, expand: 4, se: true}
      - {block: xception, width: 64, stride: 2}
    head: {type: linear, dropout: 0.2}

Blocks are the names in ``moodreel.nn.layers.BLOCKS``. Heads: ``conv`` (a ``kernel`` conv to
the classes, then global average pooling, as in mini-Xception) or ``linear`` (global average
pooling, dropout, a linear layer).
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moodreel.files import read_yaml
from moodreel.nn.layers import BLOCKS
from moodreel.nn.reparam import BranchedSeparableConv

GROUP_KEYS = {"block", "width", "stride", "repeats"}
#: The group option that only shapes training (``moodreel.nn.reparam``); deployed without it.
TRAINING_ONLY_KEY = "branches"
HEAD_TYPES = ("conv", "linear")


class SpecError(ValueError):
    """A spec that cannot be built; the message says where in the spec the problem is."""


def load_spec(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Read a spec from a dict or a YAML/JSON file and return a validated copy."""
    if isinstance(source, dict):
        spec = copy.deepcopy(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"spec file not found: {path}")
        spec = read_yaml(path, SpecError)
        if not isinstance(spec, dict):
            raise SpecError(f"{path}: a spec must be a mapping with stem, stages and head")
        spec = spec.get("model", spec) if "stages" not in spec else spec
    validate_spec(spec)
    return spec


def validate_spec(spec: dict[str, Any]) -> None:
    unknown = set(spec) - {"name", "stem", "stages", "head"}
    if unknown:
        raise SpecError(f"unknown spec key(s): {', '.join(sorted(unknown))}")
    if not spec.get("stages"):
        raise SpecError("a spec needs a non-empty 'stages' list")
    for section in ("stem", "stages"):
        groups = spec.get(section) or []
        if not isinstance(groups, list):
            raise SpecError(f"'{section}' must be a list of block groups")
        for i, group in enumerate(groups):
            _validate_group(group, f"{section}[{i}]")
    head = spec.get("head", {"type": "conv"})
    if not isinstance(head, dict) or head.get("type", "conv") not in HEAD_TYPES:
        raise SpecError(f"head must be a mapping with type one of {', '.join(HEAD_TYPES)}")
    extra = set(head) - {"type", "kernel", "dropout", "hidden"}
    if extra:
        raise SpecError(f"head: unknown option(s) {', '.join(sorted(extra))}")


def _validate_group(group: Any, where: str) -> None:
    if not isinstance(group, dict):
        raise SpecError(f"{where}: expected a mapping like {{block: conv, width: 16}}")
    block = group.get("block")
    if block not in BLOCKS:
        raise SpecError(f"{where}: unknown block {block!r}; expected one of {', '.join(BLOCKS)}")
    if block != "maxpool" and not isinstance(group.get("width"), int):
        raise SpecError(f"{where}: 'width' (an integer number of channels) is required")
    for key in ("stride", "repeats"):
        if key in group and (not isinstance(group[key], int) or group[key] < 1):
            raise SpecError(f"{where}: '{key}' must be a positive integer")
    allowed = set(inspect.signature(BLOCKS[block]).parameters) - {"in_chans", "out_chans",
                                                                   "stride"}
    options = set(group) - GROUP_KEYS
    if options - allowed:
        raise SpecError(
            f"{where}: block {block!r} has no option(s) {', '.join(sorted(options - allowed))}"
            f"; it takes {', '.join(sorted(allowed)) or 'none'}"
        )


def _build_groups(groups: list[dict[str, Any]], chans: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for group in groups:
        options = {k: v for k, v in group.items() if k not in GROUP_KEYS}
        width = group.get("width", chans)
        for i in range(group.get("repeats", 1)):
            stride = group.get("stride", 1) if i == 0 else 1
            layers.append(BLOCKS[group["block"]](chans, width, stride=stride, **options))
            chans = width
    return nn.Sequential(*layers), chans


class SpecNet(nn.Module):
    """A CNN built from a spec; every moodreel model is one, so all share one interface."""

    def __init__(self, spec: dict[str, Any], num_classes: int = 7, in_chans: int = 1) -> None:
        super().__init__()
        validate_spec(spec)
        self.spec = copy.deepcopy(spec)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.stem, chans = _build_groups(spec.get("stem") or [], in_chans)
        self.stages, chans = _build_groups(spec["stages"], chans)
        self.num_features = chans

        head = {"type": "conv", **spec.get("head", {})}
        self.head_type = head["type"]
        self.head_drop = nn.Dropout(float(head.get("dropout", 0.0)))
        if self.head_type == "conv":
            kernel = int(head.get("kernel", 3))
            self.classifier: nn.Module = nn.Conv2d(chans, num_classes, kernel,
                                                   padding=kernel // 2)
        else:
            hidden = int(head.get("hidden", 0))
            self.classifier = (
                nn.Sequential(nn.Linear(chans, hidden), nn.ReLU(inplace=True),
                              nn.Linear(hidden, num_classes))
                if hidden else nn.Linear(chans, num_classes)
            )
        self.config: dict[str, Any] = {"spec": self.spec, "num_classes": num_classes,
                                       "in_chans": in_chans}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` -> feature map ``(B, num_features, h, w)``."""
        return self.stages(self.stem(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Feature map ``(B, C, h, w)`` -> logits ``(B, num_classes)``."""
        features = self.head_drop(features)
        if self.head_type == "conv":
            return self.classifier(features).mean(dim=(2, 3))
        return self.classifier(features.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def deployed(self) -> SpecNet:
        """The inference form: training-time branches folded into plain blocks, a new model
        in eval mode (same outputs, fewer parameters, the spec without ``branches``);
        ``self``, unchanged, when there are none."""
        branched = {name: module for name, module in self.named_modules()
                    if isinstance(module, BranchedSeparableConv)}
        if not branched:
            return self
        spec = copy.deepcopy(self.spec)
        for section in ("stem", "stages"):
            for group in spec.get(section) or []:
                group.pop(TRAINING_ONLY_KEY, None)
        twin = SpecNet(spec, num_classes=self.num_classes, in_chans=self.in_chans)
        twin.config.update({k: v for k, v in self.config.items() if k != "spec"})
        if "kwargs" in twin.config:
            twin.config["kwargs"] = {k: v for k, v in twin.config["kwargs"].items()
                                     if k != TRAINING_ONLY_KEY}
        missing = twin.load_state_dict(self.state_dict(), strict=False).missing_keys
        unfilled = [key for key in missing
                    if not any(key.startswith(name + ".") for name in branched)]
        if unfilled:
            raise SpecError(f"cannot deploy: no weights for {', '.join(unfilled)}")
        for name, module in branched.items():
            twin.get_submodule(name).load_folded(*module.fold())
        return twin.eval()
