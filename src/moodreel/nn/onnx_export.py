"""Writing a model to ONNX: dynamic batch axis, self-describing metadata, atomic file.

The graph's channel gates are rewritten for ONNX Runtime's blocked layout
(``moodreel.nn.onnx_layout``), which the parity check after export covers.

Shared by ``moodreel export`` (from checkpoints) and the profiler (ONNX Runtime latency of
any registered model or spec). When the head allows it, the file also outputs what the
serving side's class activation maps need (``moodreel.nn.class_maps``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import onnx
import torch

from moodreel.files import replaced_on_success
from moodreel.nn.class_maps import add_class_map_outputs
from moodreel.nn.onnx_layout import rewrite_gates
from moodreel.vision.model_info import METADATA_KEY, ModelInfo

OPSET = 18
QUIET_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")


def write_onnx(model: torch.nn.Module, info: ModelInfo, out: Path) -> None:
    """Export ``model`` (eval mode) to ``out`` atomically, with ``info`` as metadata."""
    size = info.preprocessing.size
    example = torch.zeros(2, model.in_chans, size, size)
    batch = torch.export.Dim("batch", min=1, max=65536)
    with _quiet_exporter():
        program = torch.onnx.export(
            model, (example,), None, input_names=["input"], output_names=["logits"],
            dynamic_shapes={"x": {0: batch}}, dynamo=True, opset_version=OPSET,
            verbose=False)
    proto = program.model_proto
    proto.doc_string = f"moodreel emotion classifier: {info.name}, {info.params} parameters"
    rewrite_gates(proto)
    add_class_map_outputs(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    _save(proto, info, out)


def write_metadata(path: Path, info: ModelInfo) -> None:
    """Replace the moodreel metadata of the ONNX model at ``path`` (e.g. a new temperature),
    leaving the graph as it is."""
    _save(onnx.load_model(path), info, path)


def _save(proto: onnx.ModelProto, info: ModelInfo, out: Path) -> None:
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(info.to_dict())
    onnx.checker.check_model(proto)
    with replaced_on_success(out) as tmp:
        onnx.save_model(proto, tmp)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints, its torchvision notices and torch-internal
    deprecation warnings, only for the duration of the export."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
