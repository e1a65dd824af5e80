"""One way to open an ONNX Runtime session on the CPU, with our errors for bad files."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from moodreel.vision.model_info import ModelError


def open_session(path: Path, *, threads: int, what: str = "model") -> ort.InferenceSession:
    """A CPU session on ``path`` with ``threads`` intra-op threads (0: every core) and quiet
    logs; ``ModelError`` naming ``what`` if the file is missing or not a loadable model."""
    if not path.is_file():
        raise ModelError(f"{what} file not found: {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ORT raises its own exception types for bad files
        raise ModelError(f"{path}: not a loadable ONNX model ({error})") from None
