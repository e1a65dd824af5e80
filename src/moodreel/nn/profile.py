"""How big and how fast a model is: parameters, MACs, and measured CPU latency.

Latency is the median over repeated runs after a warm-up, in PyTorch and in ONNX Runtime
(the serving path), at batch 1 and batch 32, with a fixed number of threads.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from moodreel.nn.spec import SpecNet


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: int = 48) -> int:
    """Multiply-accumulates of one forward pass at batch 1 (convolutions and linear layers)."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, model.in_chans, input_size, input_size))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total


def median_ms(fn: Callable[[], Any], *, warmup: int = 5, repeats: int = 30,
              min_seconds: float = 0.3) -> float:
    """Median wall time of ``fn`` in milliseconds (at least ``repeats`` runs)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 10 * repeats:
            break
    return statistics.median(times) * 1000


def measure_latency(model: nn.Module, input_size: int = 48, *,
                    batch_sizes: tuple[int, ...] = (1, 32), threads: int = 1,
                    onnx: bool = True) -> dict[str, dict[str, float]]:
    """``{"torch": {"batch_1": ms, "batch_32": ms, ...}, "onnxruntime": {...}}``."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.eval()
    results: dict[str, dict[str, float]] = {"torch": {}}
    try:
        with torch.inference_mode():
            for n in batch_sizes:
                x = torch.randn(n, model.in_chans, input_size, input_size)
                results["torch"][f"batch_{n}"] = median_ms(lambda x=x: model(x))
        if onnx:
            results["onnxruntime"] = _onnx_latency(model, input_size, batch_sizes, threads)
    finally:
        torch.set_num_threads(previous_threads)
    return results


def _onnx_latency(model: nn.Module, input_size: int, batch_sizes: tuple[int, ...],
                  threads: int) -> dict[str, float]:
    from moodreel.data.preprocess import Preprocessing
    from moodreel.labels import EMOTIONS
    from moodreel.nn.onnx_export import write_onnx
    from moodreel.vision.classifier import EmotionClassifier
    from moodreel.vision.model_info import ModelInfo

    info = ModelInfo(tuple(EMOTIONS[:model.num_classes]), Preprocessing(size=input_size),
                     name=str(model.config.get("name", "spec")), params=count_params(model))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        write_onnx(model, info, path)
        classifier = EmotionClassifier(path, threads=threads)
        rng = np.random.default_rng(0)
        out = {}
        for n in batch_sizes:
            x = rng.standard_normal((n, model.in_chans, input_size, input_size),
                                    dtype=np.float32)
            out[f"batch_{n}"] = median_ms(lambda x=x: classifier.predict_logits(x))
        return out


def profile_model(model: nn.Module, input_size: int = 48, *, latency: bool = True,
                  threads: int = 1) -> dict[str, Any]:
    """Parameters, MACs and (optionally) latency of the model as deployed (training-time
    branches folded, ``SpecNet.deployed``), as JSON-ready data."""
    if isinstance(model, SpecNet):
        model = model.deployed()
    result: dict[str, Any] = {
        "name": model.config.get("name", "spec"),
        "params": count_params(model),
        "macs": count_macs(model, input_size),
        "input_size": input_size,
    }
    if latency:
        result["threads"] = threads
        result["latency_ms"] = measure_latency(model, input_size, threads=threads)
    return result
