"""The training run: data, model, optimizer, schedule, epochs, checkpoints, plots.

    moodreel train --data ../shared/data/fer2013 --model mini_xception --epochs 30
    moodreel train --config configs/mini_xception.yaml --resume      # continue a stopped run
    torchrun --nproc_per_node=2 -m moodreel.train --data DIR ...     # DistributedDataParallel

Writes to ``config.out``: ``last.pt`` (every epoch), ``best.pt`` (best val accuracy, or with
``select_on: occluded`` its balance with accuracy under occluders: ``moodreel.train.selection``),
``metrics.csv``, ``learning_curves.png``, ``confusion.png`` and ``summary.json``. Random
streams derive from (seed, epoch, rank), so a resumed run draws exactly what the
uninterrupted run would have drawn. With ``ema_decay`` the weight average is what is
evaluated, selected and saved in ``best.pt``; the raw weights' val accuracy is logged beside
it (``raw_val_acc``) and ``last.pt`` keeps both for resuming.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from moodreel.data.fer2013 import FaceDataset, load_split
from moodreel.data.preprocess import Preprocessing
from moodreel.files import replaced_on_success
from moodreel.labels import EMOTIONS
from moodreel.nn.profile import count_params
from moodreel.nn.registry import create_model, model_from_config
from moodreel.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from moodreel.train.config import TrainConfig
from moodreel.train.distill import (
    DISTILL_LOSSES,
    SCORES_NEED_CACHE,
    Distillation,
    Teachers,
    model_paths,
    score_training_set,
)
from moodreel.train.distributed import (
    DistContext,
    all_reduce_sum,
    init_distributed,
    shutdown,
    synchronize,
)
from moodreel.train.ema import weight_average
from moodreel.train.engine import (
    PRECISIONS,
    BatchLoader,
    cpu_has_native_bf16,
    device_description,
    predict_logits,
    train_one_epoch,
)
from moodreel.train.lineage import describe_start, describe_teachers
from moodreel.train.metrics import confusions, report_from_confusions
from moodreel.train.plots import plot_confusion, plot_learning_curves
from moodreel.train.selection import occluded_val_inputs, selection_score
from moodreel.train.teacher_scores import (
    TeacherScores,
    training_set_fingerprint,
    writable_scores_path,
)
from moodreel.train.time_limit import TimeLimit

log = logging.getLogger(__name__)
_clock = time.perf_counter  # an epoch's seconds (tests of the time limit replace it)
Scheduler = torch.optim.lr_scheduler.LRScheduler

HISTORY_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_acc4",
                  "raw_val_acc", "raw_val_acc4", "occluded_val_acc", "seconds")


class TrainError(RuntimeError):
    """A training run that cannot start or continue; the message says why."""


@dataclass
class TrainResult:
    out: Path
    best_accuracy: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, Any]]
    select_on: str = "clean"  # what chose best_epoch (best_accuracy is its clean accuracy)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on BatchNorm and bias parameters (1-D), as is usual for small CNNs.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)
    raise TrainError(f"unknown optimizer {config.optimizer!r}; expected adamw or sgd")


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
                   ) -> Scheduler:
    """Per-step schedule: linear warmup, then cosine decay, one-cycle, or constant."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=total,
            pct_start=max(config.warmup_epochs * steps_per_epoch / total, 0.01))
    if config.schedule not in ("cosine", "constant"):
        raise TrainError(f"unknown schedule {config.schedule!r}; expected cosine, onecycle "
                         "or constant")
    warmup = int(config.warmup_epochs * steps_per_epoch)
    floor = config.min_lr_ratio

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def class_weights(labels: np.ndarray, mode: str) -> torch.Tensor | None:
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = len(labels) / (len(EMOTIONS) * np.maximum(counts, 1))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    elif mode != "balanced":
        raise TrainError(f"unknown class_weights {mode!r}; expected none, balanced or sqrt")
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def _pick_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda was asked for but no CUDA GPU is available")
    return torch.device(choice)


def score_teachers(teachers: list[str], data: str, out: str | Path, *, flip: bool = False,
                   device: str = "auto", skip_bad: bool = False) -> TeacherScores:
    """Score every training face of ``data`` with the teacher models and save the logits to
    ``out`` (``.npz``): a cached distillation from them then needs only that file."""
    paths = model_paths(teachers)
    if not paths:
        raise TrainError("give at least one teacher model (.pt or .onnx)")
    out = writable_scores_path(out)
    torch_device = _pick_device(device)
    models = Teachers(paths, flip=flip, device=torch_device)
    train = load_split(data, "train", on_error="skip" if skip_bad else "raise")
    scores = score_training_set(models, train.images, train.labels, device=torch_device)
    scores.save(out)
    return scores


@torch.no_grad()
def evaluate_split(model: nn.Module, inputs: np.ndarray, labels: np.ndarray,
                   context: DistContext, device: torch.device, channels_last: bool
                   ) -> tuple[float, dict[str, Any]]:
    """Mean loss and the metrics report on ``inputs``, sharded across processes."""
    part = slice(context.rank, None, context.world_size)
    logits = predict_logits(model, inputs[part], device=device, channels_last=channels_last)
    shard_labels = labels[part]
    loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(shard_labels),
                           reduction="sum") if len(shard_labels) else torch.zeros(())
    confusion7, confusion4 = confusions(shard_labels, logits)
    totals = all_reduce_sum(torch.tensor(
        np.concatenate([[float(loss)], confusion7.ravel(), confusion4.ravel()]),
        dtype=torch.float64), context).numpy()
    confusion7 = totals[1:1 + confusion7.size].reshape(confusion7.shape).astype(np.int64)
    confusion4 = totals[1 + confusion7.size:].reshape(confusion4.shape).astype(np.int64)
    report = report_from_confusions(confusion7, confusion4)
    return float(totals[0]) / max(report["n"], 1), report


@dataclass(frozen=True)
class _Best:
    """The epoch kept in ``best.pt`` so far: its clean val accuracy, the score that chose it
    (``moodreel.train.selection``) and its number; none yet before the first epoch."""
    accuracy: float = -1.0
    score: float = -1.0
    epoch: int = 0

    @classmethod
    def of(cls, state: dict[str, Any]) -> _Best:
        """As a checkpoint records it; runs from before select_on have no score of their own."""
        return cls(state["best_accuracy"], state.get("best_score", state["best_accuracy"]),
                   state["best_epoch"])

    def checkpoint_fields(self) -> dict[str, Any]:
        return {"best_accuracy": self.accuracy, "best_score": self.score,
                "best_epoch": self.epoch}


class _Measured(NamedTuple):
    """One epoch's val passes: the kept weights' loss and report, their mean accuracy under
    the occluders (None without them) and the epoch's val columns of ``metrics.csv``."""
    loss: float
    report: dict[str, Any]
    occluded: float | None
    columns: dict[str, float]


@dataclass
class _Validation:
    """The val faces every epoch is judged on: as serving preprocesses them and, with
    ``select_on: occluded``, under each of the occluders as well."""
    inputs: np.ndarray
    labels: np.ndarray
    occluded: list[np.ndarray]
    context: DistContext
    device: torch.device
    channels_last: bool

    @classmethod
    def of(cls, val_data: FaceDataset, preprocessing: Preprocessing, select_on: str,
           context: DistContext, device: torch.device, channels_last: bool) -> _Validation:
        occluded = (occluded_val_inputs(val_data.images, preprocessing)
                    if select_on == "occluded" else [])
        # preprocessing is the very function serving uses
        return cls(preprocessing(val_data.images), val_data.labels, occluded, context, device,
                   channels_last)

    def measure(self, kept: nn.Module, raw: nn.Module | None) -> _Measured:
        """``kept`` on every val pass; ``raw`` is the weights behind an average, whose
        accuracy is logged beside it."""
        loss, report = self._evaluate(kept, self.inputs)
        columns = {"val_loss": round(loss, 5), "val_acc": round(report["accuracy_7"], 5),
                   "val_acc4": round(report["accuracy_4"], 5)}
        if raw is not None:
            _, raw_report = self._evaluate(raw, self.inputs)
            columns |= {"raw_val_acc": round(raw_report["accuracy_7"], 5),
                        "raw_val_acc4": round(raw_report["accuracy_4"], 5)}
        occluded = None
        if self.occluded:
            occluded = float(np.mean([self._evaluate(kept, inputs)[1]["accuracy_7"]
                                      for inputs in self.occluded]))
            columns["occluded_val_acc"] = round(occluded, 5)
        return _Measured(loss, report, occluded, columns)

    def _evaluate(self, model: nn.Module, inputs: np.ndarray) -> tuple[float, dict[str, Any]]:
        return evaluate_split(model, inputs, self.labels, self.context, self.device,
                              self.channels_last)


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    with replaced_on_success(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)


def _load_data(config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    on_error = "skip" if config.skip_bad else "raise"
    train = load_split(config.data, "train", on_error=on_error)
    val = load_split(config.data, "val", on_error=on_error)
    for dataset in (train, val):
        if dataset.skipped:
            log.warning("%s split: skipped %d bad entries (first: %s)", dataset.split,
                        len(dataset.skipped), dataset.skipped[0])
    return train, val


def run_training(config: TrainConfig, *, resume: bool = False, progress: bool = True,
                 resume_overrides: dict[str, Any] | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data``; with ``resume``, continue ``out/last.pt``."""
    out = Path(config.out)
    state = None
    if resume:
        if not (out / "last.pt").is_file():
            raise TrainError(f"nothing to resume: {out / 'last.pt'} does not exist")
        state = load_checkpoint(out / "last.pt")
        config = TrainConfig.from_dict(state["train_config"]).updated(
            **(resume_overrides or {}))
    if not config.data:
        raise TrainError("no dataset given: pass --data PATH or set data in the config")
    if config.precision not in PRECISIONS:
        raise TrainError(f"unknown precision {config.precision!r}; expected "
                         f"{' or '.join(PRECISIONS)}")
    if config.finetune and config.init_from:
        raise TrainError("finetune and init_from exclude each other: finetune keeps the "
                         "checkpoint's network, init_from starts `model` from its weights")

    device = _pick_device(config.device)
    if config.precision == "bf16" and device.type == "cpu" and cpu_has_native_bf16() is False:
        log.warning("precision bf16 on a CPU without native bfloat16 (AVX-512 BF16 or AMX): "
                    "emulated, it makes training slower than fp32 here")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    context = init_distributed(device.type == "cuda")
    if context.enabled and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
    torch.set_num_threads(config.threads or max(1, (os.cpu_count() or 1) // context.world_size))
    channels_last = config.channels_last
    try:
        result = _train(config, state, context, device, channels_last, progress and
                        context.is_main)
        synchronize(context)
        return result
    finally:
        shutdown(context)


def _initial_model(config: TrainConfig, preprocessing: Preprocessing,
                   train_faces: np.ndarray) -> nn.Module:
    """A fresh ``config.model``; with ``config.finetune`` the model and weights of a
    checkpoint or of an exported ONNX model such as the shipped one (e.g. to adapt it to
    faces exported from user feedback); with ``config.init_from`` a fresh ``config.model``
    warm-started from another model's weights (e.g. a faster variant of a trained network)."""
    if config.finetune:
        model, trained_with = _source_model(config.finetune, train_faces)
        if trained_with != preprocessing:
            raise TrainError(f"{config.finetune} was trained with {trained_with}, this run "
                             f"uses {preprocessing}: set input_size, mean and std to match")
        return model.train()
    model = create_model(config.model, num_classes=len(EMOTIONS), in_chans=1,
                         **config.model_kwargs)
    if config.init_from:
        source, trained_with = _source_model(config.init_from, train_faces)
        _copy_matching_weights(source, model, config.init_from)
        if trained_with != preprocessing:
            log.info("%s was trained with %s; this run uses %s", config.init_from,
                     trained_with, preprocessing)
    return model.train()


def _source_model(path: str, train_faces: np.ndarray) -> tuple[nn.Module, Preprocessing]:
    if Path(path).suffix == ".onnx":
        return _model_from_onnx(path, train_faces)
    model, trained_with, _ = model_from_checkpoint(path)
    return model, trained_with


def _copy_matching_weights(source: nn.Module, target: nn.Module, name: str) -> None:
    """Copy into ``target`` every tensor of ``source`` with the same name and shape (the
    BatchNorm statistics too); the rest keeps its fresh initialisation. Under half of the
    target's parameters matching is refused: that is another family of network (a
    classifier's bias matches almost anything), and the run would be a fresh start under a
    name that says otherwise."""
    theirs = source.state_dict()
    ours = target.state_dict()
    matching = {key: theirs[key] for key, tensor in ours.items()
                if key in theirs and theirs[key].shape == tensor.shape}
    params = dict(target.named_parameters())
    copied = sum(params[key].numel() for key in matching if key in params)
    total = count_params(target)
    if copied * 2 < total:
        raise TrainError(f"init_from: {name} matches {copied} of this run's model's {total} "
                         "parameters by name and shape; it is not a variant of this network")
    target.load_state_dict(matching, strict=False)
    fresh = [key for key in ours if key not in matching]
    log.info("init_from %s: %d of %d tensors copied (%d of %d parameters)%s", name,
             len(matching), len(ours), copied, total,
             f"; fresh: {', '.join(fresh)}" if fresh else "")


#: Training faces whose statistics restore an ONNX model's folded BatchNorms.
UNFOLD_FACES = 4096


def _model_from_onnx(path: str, train_faces: np.ndarray) -> tuple[nn.Module, Preprocessing]:
    from moodreel.nn.onnx_import import model_from_onnx
    from moodreel.vision.classifier import ModelError

    sample = np.sort(np.random.default_rng(0).permutation(len(train_faces))[:UNFOLD_FACES])
    try:
        model, info = model_from_onnx(path, trainable_on=train_faces[sample])
    except ModelError as error:
        raise TrainError(f"cannot fine-tune {path}: {error}") from None
    return model, info.preprocessing


def _distillation(config: TrainConfig, preprocessing: Preprocessing, train_data: FaceDataset,
                  device: torch.device) -> Distillation | None:
    """The teachers of ``config``, their soft targets cached up front with ``distill_cache``."""
    if not config.teachers:
        return None
    if not 0 < config.distill_weight <= 1 or config.distill_temperature <= 0:
        raise TrainError("distill_weight must be in (0, 1] and distill_temperature > 0")
    mixes = any(augment.mixup or augment.cutmix
                for augment in (config.augment, config.augment_at(config.epochs - 1)))
    decoupled = _decoupled(config, mixes)
    distillation = Distillation(Teachers(config.teachers, preprocessing,
                                         flip=config.distill_flip, device=device),
                                config.distill_weight, config.distill_temperature,
                                decoupled=decoupled)
    if distillation.teachers.scores and not config.distill_cache:
        raise TrainError(SCORES_NEED_CACHE)
    if config.distill_cache:
        if mixes:
            raise TrainError("distill_cache scores unmixed faces; it cannot be combined "
                             "with mixup or cutmix")
        started = time.perf_counter()
        faces = (torch.from_numpy(preprocessing(train_data.images))
                 if distillation.teachers.has_models else None)  # files need no faces
        distillation.cache(faces, device=device, fingerprint=training_set_fingerprint(
            train_data.images, train_data.labels))
        log.info("the teachers' soft targets for %d training faces, in %.0f s",
                 len(train_data), time.perf_counter() - started)
    return distillation


def _decoupled(config: TrainConfig, mixes: bool) -> tuple[float, float] | None:
    """DKD's ``(alpha, beta)`` for ``distill_loss: dkd``, None for plain KD."""
    if config.distill_loss not in DISTILL_LOSSES:
        raise TrainError(f"distill_loss must be one of {', '.join(DISTILL_LOSSES)}, not "
                         f"{config.distill_loss!r}")
    if config.distill_loss == "kd":
        return None
    if config.dkd_alpha < 0 or config.dkd_beta < 0 or not config.dkd_alpha + config.dkd_beta:
        raise TrainError("dkd_alpha and dkd_beta must be 0 or more, not both 0")
    if mixes:
        raise TrainError("distill_loss dkd splits the soft term at each face's label; it "
                         "cannot be combined with mixup or cutmix, which mix two labels")
    return config.dkd_alpha, config.dkd_beta


def _provenance(config: TrainConfig, state: dict[str, Any] | None, device: torch.device,
                processes: int) -> dict[str, Any]:
    """The checkpoint fields that say what this run started from and learnt from (read
    once, at its start, as ``moodreel.train.lineage`` describes them) and the machine of each
    start and resume."""
    if state is None:
        values = config.to_dict()
        recorded = {"started_from": describe_start(values), "teachers": describe_teachers(values)}
        devices, first = [], 1
    else:
        recorded = {key: state.get(key) for key in ("started_from", "teachers")}
        devices, first = list(state.get("devices", [])), state["epoch"] + 1
    if first <= config.epochs:
        devices.append({"from_epoch": first,
                        "device": device_description(device, config.precision, processes)})
    return recorded | {"devices": devices}


def _train(config: TrainConfig, state: dict[str, Any] | None, context: DistContext,
           device: torch.device, channels_last: bool, progress: bool) -> TrainResult:
    out = Path(config.out)
    preprocessing = Preprocessing(config.input_size, config.mean, config.std)
    train_data, val_data = _load_data(config)
    validation = _Validation.of(val_data, preprocessing, config.select_on, context, device,
                                channels_last)

    torch.manual_seed(config.seed)  # the same initial weights on every rank
    # resumed: last.pt holds the network and its weights, so the starting file is not read again
    model = (model_from_config(state["model_config"]).train() if state is not None
             else _initial_model(config, preprocessing, train_data.images)).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loader = BatchLoader(train_data.images, train_data.labels, preprocessing,
                         config.batch_size, augment=config.augment, seed=config.seed,
                         shard=context.shard, max_steps=config.max_steps_per_epoch,
                         device=device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, len(loader))
    weights = class_weights(train_data.labels, config.class_weights)
    weights = weights.to(device) if weights is not None else None
    distillation = _distillation(config, preprocessing, train_data, device)
    try:
        average = weight_average(model, config.ema_decay) if config.ema_decay else None
    except ValueError as error:
        raise TrainError(str(error)) from None

    history: list[dict[str, Any]] = []
    best, start_epoch = _Best(), 0
    limit, invocation_seconds = TimeLimit(config.time_limit), []
    # only the main process writes checkpoints: the others need not read the start again
    provenance = _provenance(config, state, device, context.world_size) if context.is_main else {}
    if state is not None:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best, start_epoch = list(state["history"]), _Best.of(state), state["epoch"]
        if average is not None and "weight_average" in state:  # else it starts from here
            average.load_state_dict(state["weight_average"])
        if start_epoch >= config.epochs:
            log.info("run already finished %d of %d epochs", start_epoch, config.epochs)
    train_model: nn.Module = DistributedDataParallel(model) if context.enabled else model

    if context.is_main:
        out.mkdir(parents=True, exist_ok=True)
        params, deployed = count_params(model), count_params(model.deployed())
        log.info("training %s (%d params%s) on %d images (%d per process), val %d, %s, "
                 "%d process(es)", model.config["name"], params,
                 f", {deployed} once its branches are folded" if deployed != params else "",
                 len(train_data),
                 len(loader) * config.batch_size, len(val_data), device, context.world_size)

    for epoch in range(start_epoch, config.epochs):
        if epoch >= config.epochs:  # a time limit shortened the run
            break
        if not limit.allows_another(invocation_seconds):
            if context.is_main:
                log.info("stopping after epoch %d: another epoch would end past the time "
                         "limit (%.0f s)", epoch, limit.seconds)
            break
        started = _clock()
        torch.manual_seed(config.seed * 1_000_003 + epoch * 101 + context.rank)
        loader.epoch = epoch
        loader.augment = config.augment_at(epoch)
        stats = train_one_epoch(
            train_model, loader, optimizer, scheduler, num_classes=len(EMOTIONS),
            label_smoothing=config.label_smoothing, class_weights=weights, device=device,
            channels_last=channels_last, distillation=distillation, average=average,
            precision=config.precision, sam_rho=config.sam_rho, progress=progress,
            desc=f"epoch {epoch + 1}/{config.epochs}")
        kept = model if average is None else average.module  # evaluated, selected, exported
        val_loss, report, occluded, columns = validation.measure(
            kept, raw=None if average is None else model)
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"],
               "train_loss": round(stats.loss, 5), "train_acc": round(stats.accuracy, 5),
               **columns, "seconds": round(_clock() - started, 2)}
        history.append(row)
        if limit.seconds:
            invocation_seconds.append(_agreed(row["seconds"], context, device))
            if state is None and epoch == 0:
                config, scheduler = _fit_schedule(config, limit, invocation_seconds[0],
                                                  optimizer, scheduler, len(loader))
        score = selection_score(report["accuracy_7"], occluded)
        improved = config.selects_from(epoch) and score > best.score
        if improved:
            best = _Best(report["accuracy_7"], score, epoch + 1)
        if context.is_main:
            extra = {"train_config": config.to_dict(), "epoch": epoch + 1,
                     **best.checkpoint_fields(), "history": history, "val_report": report,
                     **provenance}
            if improved:
                save_checkpoint(out / "best.pt", model=kept, preprocessing=preprocessing,
                                **extra)
            resumable = {} if average is None else {"weight_average": average.state_dict()}
            save_checkpoint(out / "last.pt", model=model, preprocessing=preprocessing,
                            optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict(), **resumable, **extra)
            _write_history(out / "metrics.csv", history)
            notes = "" if average is None else f"  raw weights {row['raw_val_acc']:.4f}"
            notes += "" if occluded is None else f"  occluded {occluded:.4f}"
            log.info("epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  "
                     "val_acc4 %.4f%s  %.1fs%s", epoch + 1, config.epochs, stats.loss,
                     stats.accuracy, val_loss, report["accuracy_7"], report["accuracy_4"],
                     notes, row["seconds"], "  *best*" if improved else "")
        if config.patience and epoch + 1 - best.epoch >= config.patience:
            if context.is_main:
                log.info("early stopping: no gain on %s val for %d epochs", config.select_on,
                         config.patience)
            break

    if context.is_main and history:
        _finish(out, history, best.accuracy, best.epoch)
    return TrainResult(out, best.accuracy, best.epoch, len(history), history, config.select_on)


def _agreed(seconds: float, context: DistContext, device: torch.device) -> float:
    """The mean of every process's ``seconds``, so that all of them take the same decisions."""
    if not context.enabled:
        return seconds
    total = all_reduce_sum(torch.tensor([seconds], dtype=torch.float64, device=device), context)
    return float(total.item()) / context.world_size


def _fit_schedule(config: TrainConfig, limit: TimeLimit, first_epoch_seconds: float,
                  optimizer: torch.optim.Optimizer, scheduler: Scheduler, steps_per_epoch: int
                  ) -> tuple[TrainConfig, Scheduler]:
    """``config`` with the epochs that fit ``limit`` at the first epoch's pace, and its
    schedule continued from where ``scheduler`` is (the first epoch already ran)."""
    epochs = limit.fitted_epochs(first_epoch_seconds, config.epochs)
    if epochs == config.epochs:
        return config, scheduler
    log.info("time limit %.0f s at %.0f s an epoch: the schedule fitted to %d of the %d "
             "epochs", limit.seconds, first_epoch_seconds, epochs, config.epochs)
    if epochs <= config.warmup_epochs:
        log.warning("the %d epochs that fit end within the %g warmup epochs: the learning "
                    "rate will not decay", epochs, config.warmup_epochs)
    config = config.updated(epochs=epochs)
    fitted = make_scheduler(optimizer, config, steps_per_epoch)
    fitted.load_state_dict(scheduler.state_dict())  # the steps taken; the new length stays
    for group, base, factor in zip(optimizer.param_groups, fitted.base_lrs,
                                   fitted.lr_lambdas, strict=True):
        group["lr"] = base * factor(fitted.last_epoch)
    return config, fitted


def _finish(out: Path, history: list[dict[str, Any]], best_accuracy: float,
            best_epoch: int) -> None:
    """Plots and summary from the best checkpoint."""
    _, _, best = model_from_checkpoint(out / "best.pt")
    report = best["val_report"]
    plot_learning_curves(history, out / "learning_curves.png")
    plot_confusion(report["confusion"], report["labels"], out / "confusion.png",
                   title=f"val, epoch {best_epoch}: {best_accuracy:.1%} (7 classes)")
    summary = {"best_epoch": best_epoch, "best_val_accuracy_7": best_accuracy,
               "best_val_accuracy_4": report["accuracy_4"], "epochs_run": len(history),
               "seconds": round(sum(r["seconds"] for r in history), 1),
               "train_config": best["train_config"], "model_config": best["model_config"],
               "val_report": report}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
