"""The admin's film form: what was typed, checked field by field, as a ``MovieRecord``.

Values are kept as typed, so a form with a mistake comes back as the admin left it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from moodreel.movies.limits import MAX_INTEGER, has_control_characters
from moodreel.movies.models import Movie
from moodreel.movies.upsert import MovieRecord

FIELDS = ("title", "year", "rating", "votes", "runtime", "imdb_id")
TITLE_LENGTH = 300
YEARS = (1870, 2100)
IMDB_ID = re.compile(r"tt\d{7,10}")


@dataclass
class FilmForm:
    """``values`` as typed, the chosen ``genres``, ``errors`` per field and, when there are
    none, the ``cleaned`` values."""

    values: dict[str, str]
    genres: tuple[str, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)
    cleaned: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> FilmForm:
        return cls(dict.fromkeys(FIELDS, ""))

    @classmethod
    def of_movie(cls, movie: Movie) -> FilmForm:
        """The form filled with a stored film."""
        values = {name: "" if getattr(movie, name) is None else str(getattr(movie, name))
                  for name in FIELDS}
        return cls(values, tuple(genre.name for genre in movie.genres))

    @classmethod
    def submitted(cls, form: MultiDict[str, str], genre_choices: Collection[str]) -> FilmForm:
        """The posted form, checked; ``genre_choices`` are the genres it may name."""
        values = {name: form.get(name, "").strip() for name in FIELDS}
        result = cls(values, tuple(dict.fromkeys(form.getlist("genres"))))
        result._check(genre_choices)
        return result

    def _check(self, genre_choices: Collection[str]) -> None:
        title = self.values["title"]
        if not title:
            self.errors["title"] = "A film needs a title."
        elif len(title) > TITLE_LENGTH:
            self.errors["title"] = f"The title is longer than {TITLE_LENGTH} characters."
        elif has_control_characters(title):
            self.errors["title"] = "The title holds control characters; type it again."
        self.cleaned["title"] = title
        self._bounded("year", "The year", int, "a whole number", *YEARS)
        self._bounded("rating", "The rating", float, "a number", 0.0, 10.0)
        self._bounded("votes", "The votes", int, "a whole number", 0, MAX_INTEGER)
        self._bounded("runtime", "The runtime", int, "a whole number", 1, MAX_INTEGER)
        imdb_id = self.values["imdb_id"].lower()
        if imdb_id and not IMDB_ID.fullmatch(imdb_id):
            self.errors["imdb_id"] = "An IMDb id looks like tt0133093."
        self.cleaned["imdb_id"] = imdb_id or None
        unknown = [genre for genre in self.genres if genre not in genre_choices]
        if unknown:
            self.errors["genres"] = f"Unknown genre: {', '.join(unknown)}."

    def _bounded(self, name: str, label: str, parse: Callable[[str], float], kind: str,
                 low: float, high: float) -> None:
        """``cleaned[name]``: the typed value parsed, ``None`` when empty; an error when it
        does not parse or lies outside ``low``-``high``."""
        text = self.values[name]
        self.cleaned[name] = None
        if not text:
            return
        try:
            value = parse(text)
        except ValueError:
            self.errors[name] = f"{label} must be {kind}, not {text!r}."
            return
        if not (math.isfinite(value) and low <= value <= high):
            self.errors[name] = f"{label} must be from {_show(low)} to {_show(high)}."
            return
        self.cleaned[name] = value

    def record(self, movie_id: int | None = None, *, stored: Movie | None = None
               ) -> MovieRecord:
        """The film to write. For an edit (``stored``), an empty rating or vote count keeps
        the stored one and both go with the record, so the quality is recomputed from the
        pair; other empty fields keep their stored value too (the writer's rule)."""
        values = dict(self.cleaned)
        if stored is not None:
            for name in ("rating", "votes"):
                if values[name] is None:
                    values[name] = getattr(stored, name)
        return MovieRecord(genres=self.genres, movie_id=movie_id, **values)


def _show(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def genre_choices(vocabulary: Sequence[str], current: Sequence[str] = ()) -> tuple[str, ...]:
    """The vocabulary, then any other genre the film already has (an import may keep labels
    outside the vocabulary; saving the form must not drop them unasked)."""
    return tuple(dict.fromkeys([*vocabulary, *current]))
