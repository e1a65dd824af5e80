"""The inner loops: batches from memory, one training epoch, evaluation.

FER-2013 fits in memory as uint8 (66 MB), so batches are sliced from one tensor instead of
going through worker processes; augmentation is batched (``moodreel.train.augment``). On a
GPU the faces live on it and are augmented there, and an epoch synchronises with the host
once, at its end, instead of at every step: a small network's steps are too short to wait
for the host between them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from moodreel.data.preprocess import Preprocessing
from moodreel.train.augment import augment_batch, mix_batch
from moodreel.train.config import AugmentConfig
from moodreel.train.distill import Distillation
from moodreel.train.sharpness import perturbed


@dataclass
class Shard:
    """This process's share of the data when training with several processes."""

    rank: int = 0
    world_size: int = 1


class Batch(NamedTuple):
    inputs: torch.Tensor   # (B, 1, H, W) augmented, normalised
    labels: torch.Tensor   # (B,) int64
    index: torch.Tensor    # (B,) the faces' rows in the training set


class BatchLoader:
    """Shuffled batches of uint8 faces, augmented and normalised on the fly.

    Each epoch's order comes from ``seed + epoch`` and is the same on every rank; rank ``r``
    takes every ``world_size``-th index, and all ranks get the same number of batches so
    DistributedDataParallel never waits on a rank that ran out. The faces are kept on
    ``device`` and batches are cut and augmented there.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, preprocessing: Preprocessing,
                 batch_size: int, *, augment: AugmentConfig | None = None, seed: int = 0,
                 shard: Shard | None = None, max_steps: int = 0,
                 device: torch.device | None = None) -> None:
        device = device or torch.device("cpu")
        # (N, H, W) uint8
        self.images = torch.from_numpy(preprocessing.resize(images)).to(device)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.augment = augment
        self.seed = seed
        self.shard = shard or Shard()
        self.max_steps = max_steps
        self.epoch = 0

    def __len__(self) -> int:
        per_rank = len(self.labels) // self.shard.world_size
        steps = max(1, per_rank // self.batch_size)  # drop the ragged last batch
        return min(steps, self.max_steps) if self.max_steps else steps

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed * 10_007 + self.epoch)
        order = torch.randperm(len(self.labels), generator=generator)
        order = order[self.shard.rank::self.shard.world_size].to(self.labels.device)
        for step in range(len(self)):
            index = order[step * self.batch_size:(step + 1) * self.batch_size]
            yield Batch(self.to_input(self.images[index]), self.labels[index], index)

    def to_input(self, faces: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, H, W)`` -> augmented, normalised float ``(B, 1, H, W)``."""
        x = faces[:, None].float().div_(255.0)
        if self.augment is not None:
            x = augment_batch(x, self.augment)
        return (x - self.preprocessing.mean) / self.preprocessing.std


@dataclass
class EpochStats:
    loss: float
    accuracy: float


def train_one_epoch(model: nn.Module, loader: BatchLoader, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, *, num_classes: int,
                    label_smoothing: float = 0.0, class_weights: torch.Tensor | None = None,
                    device: torch.device, channels_last: bool = False,
                    distillation: Distillation | None = None,
                    average: AveragedModel | None = None, precision: str = "fp32",
                    sam_rho: float = 0.0, progress: bool = False,
                    desc: str = "train") -> EpochStats:
    """One pass over ``loader``; ``average`` (see ``moodreel.train.ema``) follows every step.
    ``precision`` "bf16" runs the forward pass under bfloat16 autocast (weights, gradients
    and the optimiser stay float32). ``sam_rho`` > 0 takes each step's gradient at weights
    that far up the slope (``moodreel.train.sharpness``), at twice the cost."""
    model.train()
    # Running sums stay on the device: reading them every step would stall a GPU each time
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    forward = functools.partial(_forward, model, device=device, precision=precision,
                                class_weights=class_weights, label_smoothing=label_smoothing,
                                distillation=distillation)
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, dynamic_ncols=True)
    for step, (x, y, index) in enumerate(bar):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        targets = F.one_hot(y, num_classes).float()  # (B, K) soft targets for mixup/cutmix
        if loader.augment is not None:
            x, targets = mix_batch(x, targets, loader.augment)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits, loss = forward(x, targets, index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if sam_rho > 0:
            with perturbed(model, sam_rho):
                optimizer.zero_grad(set_to_none=True)
                forward(x, targets, index)[1].backward()
        optimizer.step()
        scheduler.step()
        if average is not None:
            average.update_parameters(model)
        total_loss += loss.detach().double() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
        if progress and step % 20 == 0:
            bar.set_postfix(loss=f"{total_loss.item() / seen:.3f}",
                            acc=f"{correct.item() / seen:.3f}")
    return EpochStats(total_loss.item() / max(seen, 1), correct.item() / max(seen, 1))


def _forward(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, index: torch.Tensor, *,
             device: torch.device, precision: str, class_weights: torch.Tensor | None,
             label_smoothing: float, distillation: Distillation | None,
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch's float32 logits ``(B, K)`` and loss (labels, then teachers)."""
    with autocast(device, precision):
        logits = model(x).float()
    loss = F.cross_entropy(logits, targets, weight=class_weights,
                           label_smoothing=label_smoothing)
    if distillation is not None:
        loss = distillation.loss(loss, logits, x, index, targets.argmax(1))
    return logits, loss


PRECISIONS = ("fp32", "bf16")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """bfloat16 autocast on ``device`` for "bf16", nothing for "fp32"."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


#: CPU feature flags (x86 ``flags``, Arm ``Features`` in /proc/cpuinfo) of native bfloat16
#: dot products.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether this CPU multiplies bfloat16 natively; None where ``cpuinfo`` cannot tell.

    Without it oneDNN emulates bfloat16, and autocast makes a training step slower, not
    faster: 2.9-3.3x slower than float32 for the teacher networks on a Xeon with AVX-512 but
    no AVX-512 BF16, against 2.2x faster on an EPYC with it (docs/experiments.md).
    """
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return None
    features = [line.partition(":")[2].split() for line in lines
                if line.startswith(("flags", "Features"))]
    if not features:
        return None
    return bool(NATIVE_BF16_FLAGS.intersection(features[0]))


def device_description(device: torch.device, precision: str, processes: int = 1,
                       cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """What a run trains on, for its record: the GPU's name, or the CPU's model and the
    threads torch uses, then the precision, e.g. ``"AMD EPYC, 2 threads, fp32"``."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{processes} x {name}, {precision}" if processes > 1 else f"{name}, {precision}"
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        lines = []
    models = [line.partition(":")[2].strip() for line in lines
              if line.startswith(("model name", "Model"))]
    cpu = models[0] if models and models[0] else "a CPU"
    threads = torch.get_num_threads()
    return f"{cpu}, {threads} thread{'s' if threads > 1 else ''}, {precision}"


@torch.no_grad()
def predict_logits(model: nn.Module, inputs: np.ndarray, *, batch_size: int = 256,
                   device: torch.device | None = None, channels_last: bool = False,
                   tta_flip: bool = False) -> np.ndarray:
    """Logits ``(N, K)`` for normalised inputs ``(N, 1, H, W)``; flip-TTA averages logits."""
    device = device or torch.device("cpu")
    model.eval()
    outputs = []
    for start in range(0, len(inputs), batch_size):
        x = torch.from_numpy(inputs[start:start + batch_size]).to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits = model(x)
        if tta_flip:
            logits = (logits + model(x.flip(-1))) / 2
        outputs.append(logits.float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)
