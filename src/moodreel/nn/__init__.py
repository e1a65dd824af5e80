"""The CNN-building framework (imports torch): blocks, registry, specs, profiler."""

from moodreel.nn.registry import create_model, list_models, model_from_config, register_model
from moodreel.nn.spec import SpecError, SpecNet, load_spec

__all__ = [
    "SpecError", "SpecNet", "create_model", "list_models", "load_spec", "model_from_config",
    "register_model",
]
