"""Model registry: ``create_model`` is the only door to a model.

A registered model is a one-line function returning a ``SpecNet``; ``create_model`` also
accepts a spec (dict or YAML path). The resulting model's ``config`` records how it was made
(name, arguments, full spec) so a checkpoint can rebuild it with ``model_from_config``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from moodreel.nn.spec import SpecNet, load_spec

ModelFn = Callable[..., SpecNet]


class UnknownModelError(KeyError):
    """A model name that is not registered; the message lists the registered ones."""

_REGISTRY: dict[str, ModelFn] = {}


def register_model(fn: ModelFn) -> ModelFn:
    """Decorator: register ``fn`` under its own name."""
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model {fn.__name__!r} is already registered")
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    _load_builtin_models()
    return sorted(_REGISTRY)


def is_spec_source(source: Any) -> bool:
    """True for a spec dict or a path to a YAML/JSON spec file."""
    if isinstance(source, dict):
        return True
    return str(source).endswith((".yaml", ".yml", ".json"))


def create_model(
    name_or_spec: str | Path | dict[str, Any],
    num_classes: int = 7,
    in_chans: int = 1,
    **kwargs: Any,
) -> SpecNet:
    """Build a registered model by name, or a model from a spec dict or YAML file."""
    if is_spec_source(name_or_spec):
        if kwargs:
            raise TypeError(f"a spec takes no extra arguments, got {', '.join(kwargs)}")
        spec = load_spec(name_or_spec)
        model = SpecNet(spec, num_classes=num_classes, in_chans=in_chans)
        model.config["name"] = spec.get("name", "spec")
        model.config["kwargs"] = {}
        return model
    _load_builtin_models()
    name = str(name_or_spec)
    if name not in _REGISTRY:
        registered = ", ".join(sorted(_REGISTRY))
        raise UnknownModelError(f"unknown model {name!r}; registered: {registered}")
    model = _REGISTRY[name](num_classes=num_classes, in_chans=in_chans, **kwargs)
    model.config["name"] = name
    model.config["kwargs"] = dict(kwargs)
    return model


#: The part of ``model.config`` an exported ONNX file keeps, enough to rebuild the model.
MODEL_CONFIG_KEYS = ("name", "kwargs", "num_classes", "in_chans", "spec")


def model_from_config(config: dict[str, Any]) -> SpecNet:
    """Rebuild a model from ``model.config`` (as stored in checkpoints)."""
    model = SpecNet(config["spec"], num_classes=config["num_classes"],
                    in_chans=config["in_chans"])
    model.config.update(name=config.get("name", "spec"), kwargs=config.get("kwargs", {}))
    return model


def _load_builtin_models() -> None:
    import moodreel.nn.models  # noqa: F401  (registers on import)
