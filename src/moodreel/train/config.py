"""Training configuration: one dataclass, loadable from YAML presets in ``configs/``.

Precedence: dataclass defaults < ``--config`` YAML < command-line options. A preset may
name another under ``base`` and give only what it changes, so a variant of a recipe says
what is new about it and cannot drift from the rest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodreel.files import read_yaml
from moodreel.train.time_limit import parse_duration

SELECT_ON = ("clean", "occluded")  # what picks best.pt: moodreel.train.selection


@dataclass
class AugmentConfig:
    """Batch augmentation on the training set (see ``moodreel.train.augment``)."""

    flip: bool = True
    shift: float = 0.1          # max translation, fraction of the image side
    rotate: float = 10.0        # max rotation, degrees
    scale: float = 0.1          # max zoom in/out, fraction
    brightness: float = 0.2     # max additive change, on a 0-1 pixel scale
    contrast: float = 0.2       # max multiplicative change around the image mean
    erasing: float = 0.0        # probability of erasing a random rectangle
    occlude: float = 0.0        # probability of synthetic dark glasses or a mouth mask
    blur: float = 0.0           # probability of a Gaussian blur (sigma 0.5-2 px at 48 px)
    mixup: float = 0.0          # Beta(alpha, alpha) mixup; 0 disables
    cutmix: float = 0.0         # Beta(alpha, alpha) cutmix; 0 disables
    mix_prob: float = 1.0       # probability a batch is mixed, when mixup/cutmix are on


@dataclass
class TrainConfig:
    preset: str = ""                        # the YAML preset read (its header says why the
                                            # run exists), kept in the run's record
    data: str = ""
    model: str = "mini_xception"            # registered name or path to a spec YAML
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    finetune: str = ""                      # .pt or .onnx to start from (its architecture wins)
    init_from: str = ""                     # .pt or .onnx whose weights start `model` where
                                            # a tensor's name and shape match (warm start)
    out: str = "runs/mini_xception"
    input_size: int = 48
    mean: float = 0.5
    std: float = 0.5
    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adamw"                # adamw | sgd
    lr: float = 3e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9                   # sgd only
    schedule: str = "cosine"                # cosine | onecycle | constant
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.0
    class_weights: str = "none"             # none | balanced | sqrt
    patience: int = 0                       # early stopping on what select_on scores; 0 = off
    select_on: str = "clean"                # clean | occluded: what picks best.pt (selection.py)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    late_augment: dict[str, Any] = field(default_factory=dict)  # augment keys changed from
    late_augment_epoch: int = 0             # this 1-based epoch on; best.pt is chosen from it on
    teachers: list[str] = field(default_factory=list)  # .pt/.onnx to distil from; [] = off
    distill_weight: float = 0.5             # share of the soft (teacher) term in the loss
    distill_temperature: float = 4.0        # softmax temperature of both sides of that term
    distill_flip: bool = False              # teachers also see the mirrored face
    distill_cache: bool = False             # teachers score each face once, unaugmented
    distill_loss: str = "kd"                # kd | dkd: the soft term (moodreel.train.distill)
    dkd_alpha: float = 1.0                  # dkd only: weight of the label's own probability
    dkd_beta: float = 8.0                   # dkd only: weight of the spread over the others
    ema_decay: float = 0.0                  # weight average per step (e.g. 0.999); 0 = off
    sam_rho: float = 0.0                    # sharpness-aware steps of this radius (e.g.
                                            # 0.05; moodreel.train.sharpness); 0 = off
    seed: int = 0
    device: str = "auto"                    # auto | cpu | cuda
    threads: int = 0                        # CPU threads; 0 uses every core
    channels_last: bool = True
    precision: str = "fp32"                 # fp32 | bf16 (autocast: large models, GPU or bf16 CPU)
    skip_bad: bool = False                  # skip unreadable dataset entries, with a count
    max_steps_per_epoch: int = 0            # 0 = full epochs; small values for smoke tests
    time_limit: float = 0.0                 # seconds of epochs per invocation (YAML: 90m,
                                            # 1.5h); the schedule is fitted to it; 0 = none

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        values = dict(values)
        values["late_augment"] = values.get("late_augment") or {}  # `late_augment:` left empty
        values["time_limit"] = parse_duration(values.get("time_limit") or 0)
        augment = AugmentConfig(**_checked(AugmentConfig, values.pop("augment", None) or {},
                                           "augment"))
        config = cls(augment=augment, **_checked(cls, values, "config"))
        _checked(AugmentConfig, config.late_augment, "late_augment")
        if config.select_on not in SELECT_ON:
            raise ValueError(f"select_on must be one of {', '.join(SELECT_ON)}, not "
                             f"{config.select_on!r}")
        if config.late_augment and not 1 < config.late_augment_epoch <= config.epochs:
            raise ValueError(f"late_augment_epoch must be in 2..{config.epochs} (epochs) "
                             "when late_augment is set")
        if config.sam_rho < 0:
            raise ValueError(f"sam_rho must be 0 (off) or positive, not {config.sam_rho}")
        if config.time_limit and (config.late_augment or config.schedule == "onecycle"):
            raise ValueError("time_limit fits a cosine or constant schedule; it cannot be "
                             "combined with late_augment or the onecycle schedule")
        return config

    def augment_at(self, epoch: int) -> AugmentConfig:
        """The augmentation of the 0-based ``epoch``: ``augment``, with ``late_augment``'s keys
        from ``late_augment_epoch`` on, so a harder augmentation (occluders, blur) can take the
        low-learning-rate end of one schedule instead of a second fine-tuning run."""
        if not self._is_late(epoch):
            return self.augment
        return dataclasses.replace(self.augment, **self.late_augment)

    def selects_from(self, epoch: int) -> bool:
        """Whether the 0-based ``epoch`` may become ``best.pt``: not before ``late_augment``
        starts, or a run would ship weights that never saw it."""
        return not self.late_augment or self._is_late(epoch)

    def _is_late(self, epoch: int) -> bool:
        return bool(self.late_augment) and epoch + 1 >= self.late_augment_epoch

    def updated(self, **overrides: Any) -> TrainConfig:
        """A copy with the given non-None fields replaced (``augment.x`` keys allowed)."""
        values = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            if key.startswith("augment."):
                values["augment"][key.removeprefix("augment.")] = value
            else:
                values[key] = value
        return TrainConfig.from_dict(values)


def _checked(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(names))}")
    return values


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML preset; unknown keys are an error so typos never pass silently."""
    path = Path(path)
    values = _preset_values(path, ()) | {"preset": str(path)}
    try:
        return TrainConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


def _preset_values(path: Path, extending: tuple[Path, ...]) -> dict[str, Any]:
    """The settings of the preset at ``path`` over those of its ``base`` (a path relative to
    the preset's folder), ``augment`` and ``late_augment`` merged key by key; ``extending``:
    the presets that extend this one, to refuse a cycle."""
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of training settings")
    base = values.pop("base", None)
    if base is None:
        return values
    base_path = path.parent / str(base)
    chain = (*extending, path.resolve())
    if base_path.resolve() in chain:
        raise ValueError(f"{path}: base {base} extends this preset again (a cycle)")
    inherited = _preset_values(base_path, chain)
    for key in ("augment", "late_augment"):
        own, theirs = values.get(key), inherited.get(key)
        if isinstance(own, dict) and isinstance(theirs, dict):
            values[key] = {**theirs, **own}
    return {**inherited, **values}
