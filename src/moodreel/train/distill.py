"""Knowledge distillation: a student learns from the softened outputs of frozen teachers.

Teachers are checkpoints (``.pt``, run in PyTorch) or exported models (``.onnx``, run in
ONNX Runtime, so earlier shipped models can teach); several teachers form an ensemble whose
softened probabilities are averaged, optionally over the mirrored face too. They see the
same augmented batch as the student, or, cached, score every training face once before
training, unaugmented: epochs then cost no teacher time (an ensemble of three mirrored
teachers costs about twice a training step per batch on CPU), but the soft target no longer
follows the augmentation. The loss (Hinton et al. 2015) is

    (1 - weight) * cross_entropy(student, labels) + weight * T^2 * KL(teacher_T || student_T)

where ``_T`` means softmax at temperature ``T``; ``T^2`` keeps the gradient scale of the
soft term independent of ``T``. The soft term can instead be decoupled (DKD, Zhao et al.
2022): KD is a term on the label's own probability plus ``(1 - p_label)`` times a term on how
the teachers spread the rest over the other classes, and that factor mutes the second term
wherever the teachers are sure; ``alpha * target + beta * other`` weighs the two freely.

A teacher can also be a file of its scores of every training face (``.npz``, see
``teacher_scores``; ``score_training_set`` makes one): it teaches cached runs only, of any
input size, since a score belongs to the face.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from moodreel.data.preprocess import Preprocessing
from moodreel.labels import EMOTIONS
from moodreel.train.lineage import describe_model
from moodreel.train.teacher_scores import (
    SCORES_SUFFIX,
    ScoresError,
    TeacherScores,
    load_scores,
    training_set_fingerprint,
)

Logits = Callable[[torch.Tensor], torch.Tensor]

#: The soft terms a run can learn from its teachers: Hinton's KD or its decoupled form.
DISTILL_LOSSES = ("kd", "dkd")


#: Why scores files cannot teach a live (uncached) run.
SCORES_NEED_CACHE = ("teacher scores (.npz) hold the training faces unaugmented: they teach "
                     "only with distill_cache")


class TeacherError(ValueError):
    """A teacher that cannot teach this run; the message says why."""


class Teachers:
    """Frozen models whose averaged, softened probabilities are the student's soft targets,
    and files of such models' scores of the training faces (``.npz``)."""

    def __init__(self, paths: Sequence[str | Path], preprocessing: Preprocessing | None = None,
                 *, flip: bool = False, device: torch.device | None = None) -> None:
        """``preprocessing``: the input the run feeds, which every teacher model must expect
        (``None``: the first teacher model's own, else the first scores file's); scores files
        teach any input, being of the faces. ``device``: where checkpoint teachers run
        (exported ones run in ONNX Runtime on the CPU); the soft targets come back on the
        device of the faces given."""
        if not paths:
            raise TeacherError("distillation needs at least one teacher")
        self.paths = [Path(p) for p in paths]
        self.flip = flip
        device = device or torch.device("cpu")
        self.scores: list[tuple[Path, TeacherScores]] = []
        self._models: list[Logits] = []
        for path in self.paths:
            if path.suffix == SCORES_SUFFIX:
                # A score belongs to the face, not to the run's input: a student of any input
                # size or normalisation learns from it (a 64-px teacher teaching a 48-px one).
                scores = _load_scores(path, flip)
                self.scores.append((path, scores))
                continue
            model, expected = _load(path, device)
            self._models.append(model)
            preprocessing = preprocessing or expected
            _check(path, expected, preprocessing)
        self.preprocessing: Preprocessing = preprocessing or self.scores[0][1].preprocessing

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The model teachers' logits ``(B, V, K)``: each teacher's view of ``x``, followed by
        its view of the mirrored faces with ``flip``."""
        if not self._models:
            raise TeacherError("teacher scores (.npz) cannot score new faces; this needs a "
                               "teacher model (.pt or .onnx)")
        views = [x, x.flip(-1)] if self.flip else [x]
        return torch.stack([model(view).float() for model in self._models for view in views],
                           dim=1)

    def batched_logits(self, inputs: torch.Tensor, batch_size: int,
                       device: torch.device | None) -> torch.Tensor:
        """``logits`` of many faces, ``batch_size`` at a time on ``device``, where they stay."""
        return torch.cat([self.logits(inputs[start:start + batch_size].to(device))
                          for start in range(0, len(inputs), batch_size)])

    @property
    def has_models(self) -> bool:
        return bool(self._models)

    def soft_targets(self, x: torch.Tensor, temperature: float) -> torch.Tensor:
        """Mean of ``softmax(logits / temperature)`` over teachers (and mirrors) ``(B, K)``."""
        if self.scores:
            raise TeacherError(SCORES_NEED_CACHE)
        return F.softmax(self.logits(x) / temperature, dim=2).mean(1)


@dataclass
class Distillation:
    """Soft targets from ``teachers`` at ``temperature``, weighted ``weight`` in the loss.

    With ``cached`` (``(N, K)``, one row per training face, see ``cache``) a batch's soft
    targets are looked up by the faces' indices instead of asking the teachers. With
    ``decoupled`` (``(alpha, beta)``) the soft term is DKD's instead of KD's.
    """

    teachers: Teachers
    weight: float = 0.5
    temperature: float = 4.0
    cached: torch.Tensor | None = None
    decoupled: tuple[float, float] | None = None

    def cache(self, inputs: torch.Tensor | None, batch_size: int = 512,
              device: torch.device | None = None, fingerprint: str | None = None) -> None:
        """Score every training face (normalised, unaugmented ``(N, 1, H, W)``) once, a
        batch at a time on ``device`` (default: the faces' device, else the CPU), where the
        targets stay. Teacher scores files give their rows instead; each must have been
        scored on the training set whose ``training_set_fingerprint`` is ``fingerprint``.
        The faces are needed only by model teachers: with files alone ``inputs`` may be
        None, which spares preprocessing the whole training set for nothing."""
        if inputs is None and self.teachers.has_models:
            raise ValueError("teacher models need the training faces to score")
        device = device or (inputs.device if inputs is not None else torch.device("cpu"))
        summed: torch.Tensor | None = None
        views = 0
        if self.teachers.has_models:
            logits = self.teachers.batched_logits(inputs, batch_size, device)
            summed = F.softmax(logits / self.temperature, dim=2).sum(1)
            views += logits.shape[1]
        for path, scores in self.teachers.scores:
            try:
                scores.check_scored_on(fingerprint, path)
            except ScoresError as error:
                raise TeacherError(str(error)) from None
            rows = scores.probabilities(self.temperature).sum(1).to(device)
            summed = rows if summed is None else summed + rows
            views += scores.logits.shape[1]
        assert summed is not None  # Teachers holds at least one teacher
        self.cached = summed / views

    def loss(self, hard_loss: torch.Tensor, student_logits: torch.Tensor,
             x: torch.Tensor, index: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``(1 - weight) * hard_loss + weight * soft term`` for the batch ``x``, whose faces
        are rows ``index`` of the training set and are labelled ``labels`` (which only the
        decoupled term reads)."""
        soft = (self.teachers.soft_targets(x, self.temperature) if self.cached is None
                else self.cached[index.to(self.cached.device)].to(student_logits.device))
        if self.decoupled is None:
            soft_loss = distillation_loss(student_logits, soft, self.temperature)
        else:
            soft_loss = decoupled_loss(student_logits, soft, labels, self.temperature,
                                       *self.decoupled)
        return (1 - self.weight) * hard_loss + self.weight * soft_loss


def distillation_loss(student_logits: torch.Tensor, soft_targets: torch.Tensor,
                      temperature: float) -> torch.Tensor:
    """``T^2 * KL(soft_targets || softmax(student / T))``, averaged over the batch."""
    log_probs = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(log_probs, soft_targets, reduction="batchmean") * temperature ** 2


def decoupled_terms(student_logits: torch.Tensor, soft_targets: torch.Tensor,
                    labels: torch.Tensor, temperature: float,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """KD's two parts per face ``(B,)``, both at ``temperature``: the target term, KL between
    the teachers' and the student's (label, rest) split of the probability, and the other
    term, KL between their distributions over the classes other than the label. KL itself
    is ``target + (1 - p_label) * other``, ``p_label`` the teachers' (Zhao et al. 2022)."""
    log_q = F.log_softmax(student_logits / temperature, dim=1)
    is_label = F.one_hot(labels, log_q.shape[1]).bool()
    p_label = soft_targets.gather(1, labels[:, None]).squeeze(1).clamp(1e-7, 1 - 1e-7)
    log_q_label = log_q.gather(1, labels[:, None]).squeeze(1)
    log_q_rest = torch.logsumexp(log_q.masked_fill(is_label, -torch.inf), dim=1)
    target = (p_label * (p_label.log() - log_q_label)
              + (1 - p_label) * ((1 - p_label).log() - log_q_rest))
    p_other = soft_targets.masked_fill(is_label, 0) / (1 - p_label)[:, None]
    log_q_other = (log_q - log_q_rest[:, None]).masked_fill(is_label, 0)
    other = (torch.xlogy(p_other, p_other) - p_other * log_q_other).sum(1)
    return target, other


def decoupled_loss(student_logits: torch.Tensor, soft_targets: torch.Tensor,
                   labels: torch.Tensor, temperature: float, alpha: float,
                   beta: float) -> torch.Tensor:
    """DKD: ``T^2 * (alpha * target + beta * other)`` (``decoupled_terms``), averaged over
    the batch; ``beta`` above ``1 - p_label`` teaches the other classes' spread harder than
    KD does."""
    target, other = decoupled_terms(student_logits, soft_targets, labels, temperature)
    return (alpha * target + beta * other).mean() * temperature ** 2


def score_training_set(teachers: Teachers, images: np.ndarray, labels: np.ndarray, *,
                       batch_size: int = 512,
                       device: torch.device | None = None) -> TeacherScores:
    """The model teachers' logits for every training face ``images`` (uint8, unaugmented,
    fed as the teachers expect), ready to save: what a cached distillation from them
    needs, without them."""
    model_paths(teachers.paths)
    inputs = torch.from_numpy(teachers.preprocessing(images))
    logits = teachers.batched_logits(inputs, batch_size, device).cpu()
    return TeacherScores(logits=logits.numpy().astype(np.float16),
                         fingerprint=training_set_fingerprint(images, labels),
                         preprocessing=teachers.preprocessing, flip=teachers.flip,
                         teachers=tuple(path.name for path in teachers.paths),
                         described=tuple({"file": str(path)} | describe_model(path)
                                         for path in teachers.paths))


def model_paths(paths: Sequence[str | Path]) -> list[Path]:
    """``paths`` as teacher models to score with; ``TeacherError`` for a scores file."""
    paths = [Path(p) for p in paths]
    for path in paths:
        if path.suffix == SCORES_SUFFIX:
            raise TeacherError(f"{path} holds scores; a teacher model is a checkpoint (.pt) "
                               "or an ONNX file")
    return paths


def _load_scores(path: Path, flip: bool) -> TeacherScores:
    try:
        scores = load_scores(path)
    except ScoresError as error:
        raise TeacherError(str(error)) from None
    if scores.flip != flip:
        made = "with" if scores.flip else "without"
        raise TeacherError(f"teacher scores {path} were made {made} the mirrored faces, and "
                           f"this run sets distill_flip {str(flip).lower()}: set it to match, "
                           "or score again")
    return scores


def _load(path: Path, device: torch.device) -> tuple[Logits, Preprocessing]:
    """A teacher model's logits function and the input it was trained on."""
    if not path.is_file():
        raise TeacherError(f"teacher not found: {path}")
    if path.suffix == ".onnx":
        return _onnx_teacher(path)
    from moodreel.train.checkpoint import model_from_checkpoint

    model, trained_with, _ = model_from_checkpoint(path)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.to(device)
    return lambda x: model(x.to(device).contiguous()).to(x.device), trained_with


def _onnx_teacher(path: Path) -> tuple[Logits, Preprocessing]:
    from moodreel.vision.classifier import EmotionClassifier, ModelError

    try:
        classifier = EmotionClassifier(path, threads=0)
    except ModelError as error:
        raise TeacherError(f"teacher {path}: {error}") from None
    if tuple(classifier.labels) != tuple(EMOTIONS):
        raise TeacherError(f"teacher {path} predicts {classifier.labels}, not {EMOTIONS}")

    def logits(x: torch.Tensor) -> torch.Tensor:
        out = classifier.predict_logits(np.ascontiguousarray(x.detach().cpu().numpy()))
        return torch.from_numpy(out).to(x.device)

    return logits, classifier.info.preprocessing


def _check(path: Path, teacher: Preprocessing, student: Preprocessing) -> None:
    if teacher != student:
        raise TeacherError(f"teacher {path} expects {teacher}, this run feeds {student}: "
                           "set input_size, mean and std to match")
