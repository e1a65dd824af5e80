"""Calibrated confidence: temperature scaling (Guo et al. 2017) and how to measure it.

A network trained with label smoothing or for long is often under- or over-confident: its
top probability does not match how often it is right. Dividing the logits by one temperature
T, fitted on val by minimising the negative log-likelihood, fixes most of that without
changing any prediction (the argmax is the same for every T > 0). The temperature is stored
in the ONNX metadata and applied by the serving classifier, so ``uncertain`` and the
percentages users see are calibrated. numpy only: no torch; the softmax is the serving
classifier's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from moodreel.vision.classifier import softmax

#: Range searched for the temperature.
T_MIN, T_MAX = 0.05, 20.0
BINS = 15


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    logp = log_softmax(np.asarray(logits, np.float64) / temperature)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, tolerance: float = 1e-4
                    ) -> float:
    """The T in [T_MIN, T_MAX] that minimises the NLL of ``labels``. The NLL is convex in
    1/T (a log-sum-exp minus a linear term), so a golden-section search on 1/T finds it."""
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels)
    if len(logits) == 0:
        raise ValueError("cannot fit a temperature on no samples")
    low, high = 1.0 / T_MAX, 1.0 / T_MIN
    ratio = (np.sqrt(5.0) - 1.0) / 2.0

    def loss(beta: float) -> float:
        return nll(logits, labels, 1.0 / beta)

    a, b = low + (1 - ratio) * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    while high - low > tolerance:
        if fa < fb:
            high, b, fb = b, a, fa
            a = low + (1 - ratio) * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(1.0 / ((low + high) / 2.0))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS
                ) -> dict[str, list[float]]:
    """Per confidence bin (equal width on [0, 1]): mean confidence, accuracy and the share
    of samples; empty bins have count 0 and NaN means."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, bins) / counts
        accuracy = np.bincount(index, correct.astype(float), bins) / counts
    return {"edges": np.linspace(0, 1, bins + 1).tolist(),
            "confidence": mean_confidence.tolist(), "accuracy": accuracy.tolist(),
            "share": (counts / max(len(confidence), 1)).tolist(), "count": counts.tolist()}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = BINS) -> float:
    """ECE: the share-weighted mean |accuracy - confidence| over confidence bins."""
    table = reliability(probabilities, labels, bins)
    return float(sum(share * abs(acc - conf)
                     for share, acc, conf in zip(table["share"], table["accuracy"],
                                                 table["confidence"], strict=True)
                     if share > 0))


def calibration_report(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Fit T on ``logits``/``labels`` and compare NLL and ECE before and after; the
    ``heldout`` figures fit T on one half (alternate samples) and score the other, so the
    gain is not only measured on the samples it was fitted to."""
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels)
    temperature = fit_temperature(logits, labels)
    before, after = softmax(logits), softmax(logits, temperature)
    heldout_probabilities = np.empty_like(after)
    heldout_nll = 0.0
    for part in (0, 1):
        fit, score = np.arange(len(labels)) % 2 != part, np.arange(len(labels)) % 2 == part
        t = fit_temperature(logits[fit], labels[fit])
        heldout_probabilities[score] = softmax(logits[score], t)
        heldout_nll += nll(logits[score], labels[score], t) * score.sum() / len(labels)
    return {"temperature": temperature, "n": int(len(labels)),
            "nll_before": nll(logits, labels), "nll_after": nll(logits, labels, temperature),
            "ece_before": expected_calibration_error(before, labels),
            "ece_after": expected_calibration_error(after, labels),
            "nll_after_heldout": heldout_nll,
            "ece_after_heldout": expected_calibration_error(heldout_probabilities, labels),
            "reliability_before": reliability(before, labels),
            "reliability_after": reliability(after, labels)}
