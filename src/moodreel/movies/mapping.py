"""The genre vocabulary and the default emotion -> genre weights, read from a shipped asset.

The weights are data (``assets/mood_genres.yaml``), copied into the database on
``moodreel db init``; this module only reads and checks the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from moodreel.assets import ASSETS_DIR
from moodreel.labels import EMOTIONS

STRATEGIES: tuple[str, ...] = ("match", "lift")
DEFAULT_MAPPING = ASSETS_DIR / "mood_genres.yaml"


def check_strategy(strategy: str) -> None:
    """``ValueError`` naming the choices unless ``strategy`` is one of ``STRATEGIES``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of "
                         f"{', '.join(STRATEGIES)}")


class MappingError(ValueError):
    """The mapping file is malformed (unknown emotion, genre or strategy, weight outside
    [0, 1])."""


@dataclass(frozen=True)
class Guard:
    """Genres never recommended by ``strategy`` when ``emotions`` together weigh at least
    ``threshold``."""

    strategy: str
    emotions: tuple[str, ...]
    genres: tuple[str, ...]
    threshold: float

    def applies(self, strategy: str, probabilities: Mapping[str, float]) -> bool:
        share = sum(probabilities.get(name, 0.0) for name in self.emotions)
        return strategy == self.strategy and share >= self.threshold


@dataclass(frozen=True)
class MoodMapping:
    """Everything the recommender needs to know about moods and genres, as plain data."""

    genres: tuple[str, ...]
    aliases: Mapping[str, str | None]
    moods: Mapping[str, Mapping[str, str]]
    guard: Guard
    weights: Mapping[str, Mapping[str, Mapping[str, float]]]  # strategy -> emotion -> genre

    def canonical_genre(self, name: str) -> str | None:
        """The vocabulary spelling of a genre label, ``None`` for labels that are not genres
        (e.g. "IMAX"); unknown labels are kept as written (stripped)."""
        label = name.strip()
        if label in self.aliases:
            return self.aliases[label]
        for genre in self.genres:
            if genre.lower() == label.lower():
                return genre
        return label or None

    def reason(self, genre: str, emotion: str, strategy: str) -> str:
        """A few words on why: ``"Comedy - lifts a sad mood"``."""
        mood = self.moods[emotion]
        return f"{genre} - {mood[strategy]} {mood['phrase']}"


def _check(data: dict, path: Path) -> MoodMapping:
    try:
        genres = tuple(str(g) for g in data["genres"])
        aliases = {str(k): (None if v is None else str(v))
                   for k, v in (data.get("aliases") or {}).items()}
        moods = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data["moods"].items()}
        guard_data = data["guard"]
        guard = Guard(str(guard_data["strategy"]), tuple(guard_data["emotions"]),
                      tuple(guard_data["genres"]), float(guard_data["threshold"]))
        weights = {str(s): {str(e): {str(g): float(w) for g, w in (row or {}).items()}
                            for e, row in per_emotion.items()}
                   for s, per_emotion in data["weights"].items()}
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise MappingError(f"{path}: malformed mood mapping ({error!r})") from None
    problems = []
    known = set(genres)
    if set(weights) != set(STRATEGIES):
        problems.append(f"strategies must be {list(STRATEGIES)}, got {sorted(weights)}")
    for strategy, per_emotion in weights.items():
        if set(per_emotion) != set(EMOTIONS):
            problems.append(f"{strategy}: emotions must be all of {list(EMOTIONS)}")
        for emotion, row in per_emotion.items():
            problems += [f"{strategy}.{emotion}: unknown genre {g!r}" for g in row
                         if g not in known]
            problems += [f"{strategy}.{emotion}.{g}: weight {w} outside [0, 1]"
                         for g, w in row.items() if not 0.0 <= w <= 1.0]
    for emotion in EMOTIONS:
        mood = moods.get(emotion, {})
        if not {"phrase", *STRATEGIES} <= set(mood):
            problems.append(f"moods.{emotion}: needs phrase, match and lift")
    problems += [f"aliases: {k!r} -> unknown genre {v!r}" for k, v in aliases.items()
                 if v is not None and v not in known]
    if guard.strategy not in STRATEGIES or not set(guard.emotions) <= set(EMOTIONS) \
            or not set(guard.genres) <= known:
        problems.append("guard: unknown strategy, emotion or genre")
    if problems:
        raise MappingError(f"{path}: " + "; ".join(problems))
    return MoodMapping(genres, aliases, moods, guard, weights)


def load_mapping(path: str | Path | None = None) -> MoodMapping:
    """The mapping in ``path`` (YAML), by default the shipped one; checked on load."""
    if path is None:
        return _default_mapping()
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        return _check(yaml.safe_load(handle), path)


@lru_cache(maxsize=1)
def _default_mapping() -> MoodMapping:
    with DEFAULT_MAPPING.open(encoding="utf-8") as handle:
        return _check(yaml.safe_load(handle), DEFAULT_MAPPING)
