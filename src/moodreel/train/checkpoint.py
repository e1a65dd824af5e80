"""Self-describing checkpoints: resume, eval and export need nothing else.

A checkpoint holds the weights, the model config (name, arguments and full spec), label
names, preprocessing (input size, normalisation), the training config, the epoch, the best
metric, the history and optimizer/scheduler state. Files are written atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moodreel.data.preprocess import Preprocessing
from moodreel.files import replaced_on_success
from moodreel.labels import EMOTIONS
from moodreel.nn.registry import model_from_config

log = logging.getLogger(__name__)

FORMAT = "moodreel-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a readable moodreel checkpoint."""


def save_checkpoint(path: str | Path, *, model: nn.Module, preprocessing: Preprocessing,
                    **extra: Any) -> None:
    """Write ``model`` with its description and any ``extra`` state, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "model_config": model.config,
        "state_dict": model.state_dict(),
        "labels": list(EMOTIONS),
        "preprocessing": preprocessing.to_dict(),
        **extra,
    }
    with replaced_on_success(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a foreign or truncated file
        log.debug("torch.load(%s) failed", path, exc_info=True)  # its advice is about pickles
        raise CheckpointError(f"{path}: not a readable checkpoint (not a file that moodreel "
                              f"train saved, or a truncated one: {type(error).__name__})"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a moodreel checkpoint")
    return state


def model_from_checkpoint(path_or_state: str | Path | dict[str, Any]
                          ) -> tuple[nn.Module, Preprocessing, dict[str, Any]]:
    """Rebuild the model (eval mode), its preprocessing and the raw checkpoint dict."""
    state = (path_or_state if isinstance(path_or_state, dict)
             else load_checkpoint(path_or_state))
    model = model_from_config(state["model_config"])
    model.load_state_dict(state["state_dict"])
    model.eval()
    return model, Preprocessing.from_dict(state["preprocessing"]), state
