"""The emotion -> genre weights page of the admin: the configured weights of one strategy,
editable, beside the weights feedback has refined them to (what the recommender uses).

A weight of 0 is stored as no row, as the seeded weights are: to the recommender an absent
weight is 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from moodreel.labels import EMOTIONS
from moodreel.movies.feedback import current_weights
from moodreel.movies.mapping import STRATEGIES, load_mapping
from moodreel.movies.models import Genre, GenreWeight
from moodreel.web.services import services

Cell = tuple[str, int]  # (emotion, genre id)


def field_name(emotion: str, genre_id: int) -> str:
    return f"w-{emotion}-{genre_id}"


def weights() -> Any:
    """Show (GET) or save (POST, all or nothing) the weights of ``?strategy=``."""
    strategy = request.args.get("strategy", STRATEGIES[0])
    if strategy not in STRATEGIES:
        abort(400, description=f"Unknown strategy {strategy!r}; choose one of "
                               f"{', '.join(STRATEGIES)}.")
    if request.method == "GET":
        return show_weights(strategy)
    with services().database.session() as db:
        values, parsed, errors = read_weights(request.form, weight_genres(db, strategy))
        changed = 0 if errors else save_weights(db, strategy, parsed)
    if errors:
        return show_weights(strategy, values, errors), 400
    flash(f"Saved the {strategy} weights ({changed} changed).", "success")
    return redirect(url_for("admin.weights", strategy=strategy))


def show_weights(strategy: str, values: Mapping[str, str] | None = None,
                 errors: Mapping[str, str] | None = None) -> str:
    """The page; ``values`` and ``errors`` of a refused form are shown as they were typed."""
    with services().database.session() as db:
        genres = weight_genres(db, strategy)
        configured = configured_weights(db, strategy)
        refined = current_weights(db, strategy, EMOTIONS, learning=True)
    if values is None:
        values = {field_name(*cell): f"{weight:g}" for cell, weight in configured.items()}
    return render_template("admin/weights.html", strategy=strategy, genres=genres,
                           values=values, errors=errors or {}, configured=configured,
                           refined=refined, field_name=field_name)


def weight_genres(db: Session, strategy: str) -> list[tuple[int, str]]:
    """(id, name) of the genres a weight can be given to: the vocabulary's, and any other
    that already has a weight."""
    weighted = select(GenreWeight.genre_id).where(GenreWeight.strategy == strategy)
    rows = db.execute(select(Genre.id, Genre.name)
                      .where(or_(Genre.name.in_(load_mapping().genres), Genre.id.in_(weighted)))
                      .order_by(Genre.name))
    return [(genre_id, name) for genre_id, name in rows]


def configured_weights(db: Session, strategy: str) -> dict[Cell, float]:
    rows = db.execute(select(GenreWeight.emotion, GenreWeight.genre_id, GenreWeight.weight)
                      .where(GenreWeight.strategy == strategy))
    return {(emotion, genre_id): weight for emotion, genre_id, weight in rows}


def read_weights(form: Mapping[str, str], genres: Sequence[tuple[int, str]]
                 ) -> tuple[dict[str, str], dict[Cell, float], dict[str, str]]:
    """The posted weights: (values as typed, valid weights by cell, error per field). A
    cell the form leaves out is left as it is."""
    values: dict[str, str] = {}
    parsed: dict[Cell, float] = {}
    errors: dict[str, str] = {}
    for emotion in EMOTIONS:
        for genre_id, genre in genres:
            name = field_name(emotion, genre_id)
            if name not in form:
                continue
            text = values[name] = form[name].strip()
            try:
                weight = float(text)
            except ValueError:
                weight = float("nan")
            if 0.0 <= weight <= 1.0:  # False for NaN
                parsed[(emotion, genre_id)] = weight
            else:
                errors[name] = (f"{emotion.capitalize()} × {genre}: {text!r} is not a number "
                                "from 0 to 1.")
    return values, parsed, errors


def save_weights(db: Session, strategy: str, weights: Mapping[Cell, float]) -> int:
    """Write ``weights`` (0 removes the row); returns how many cells changed."""
    rows = {(row.emotion, row.genre_id): row for row in
            db.scalars(select(GenreWeight).where(GenreWeight.strategy == strategy))}
    changed = 0
    for (emotion, genre_id), weight in weights.items():
        row = rows.get((emotion, genre_id))
        if row is None and weight > 0:
            db.add(GenreWeight(strategy=strategy, emotion=emotion, genre_id=genre_id,
                               weight=weight))
        elif row is not None and weight == 0:
            db.delete(row)
        elif row is not None and row.weight != weight:
            row.weight = weight
        else:
            continue
        changed += 1
    db.flush()
    return changed
