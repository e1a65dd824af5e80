"""The catalog pages of the admin: find, add, edit and delete films.

Films are written through ``MovieWriter`` (an edit is a ``MovieRecord`` with ``movie_id``),
which keeps the recommender's ``movie_genres`` rows in step; a delete removes the ``movies``
row and the database cascades to its genre rows and feedback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from moodreel.movies.limits import without_control_characters
from moodreel.movies.mapping import load_mapping
from moodreel.movies.models import Feedback, Genre, Movie, MovieGenre
from moodreel.movies.titles import title_key
from moodreel.movies.upsert import MovieWriter
from moodreel.web.admin_movie_form import FilmForm, genre_choices
from moodreel.web.admin_paging import paginate, requested_page
from moodreel.web.services import services

FILMS_PER_PAGE = 50


def movie_list() -> Any:
    """Films by title, a page at a time; ``?q=`` keeps those whose title contains it
    (ignoring case, accents and punctuation)."""
    query = without_control_characters(request.args.get("q", "")).strip()  # never in a title
    statement = (select(Movie.id, Movie.title, Movie.year, Movie.rating, Movie.votes)
                 .order_by(Movie.title, Movie.id))
    if query:
        matches = [Movie.title.icontains(query, autoescape=True)]
        if key := title_key(query):
            matches.append(Movie.title_key.contains(key, autoescape=True))
        statement = statement.where(or_(*matches))
    with services().database.session() as db:
        page = paginate(db, statement, requested_page(), FILMS_PER_PAGE)
        genres = genres_of(db, [row.id for row in page.items])
    return render_template("admin/movies.html", page=page, query=query, genres=genres)


def genres_of(db: Session, movie_ids: Sequence[int]) -> dict[int, list[str]]:
    """The genre names of each film in ``movie_ids``, as the recommender's index has them."""
    found: dict[int, list[str]] = {}
    rows = db.execute(select(MovieGenre.movie_id, Genre.name)
                      .join(Genre, Genre.id == MovieGenre.genre_id)
                      .where(MovieGenre.movie_id.in_(movie_ids)).order_by(Genre.name))
    for movie_id, name in rows:
        found.setdefault(movie_id, []).append(name)
    return found


def movie_new() -> Any:
    choices = genre_choices(load_mapping().genres)
    if request.method == "GET":
        return render_film_form(FilmForm.empty(), choices)
    form = FilmForm.submitted(request.form, choices)
    if not form.errors:
        with services().database.session() as db:
            check_unique(db, form, movie_id=None)
    if form.errors:
        return render_film_form(form, choices), 400
    MovieWriter(services().database.engine).write([form.record()])
    with services().database.session() as db:
        movie_id = added_movie_id(db, form)
    flash(f"Added {form.cleaned['title']}.", "success")
    return redirect(url_for("admin.movie_edit", movie_id=movie_id))


def movie_edit(movie_id: int) -> Any:
    with services().database.session() as db:
        movie = db.get(Movie, movie_id)
        if movie is None:
            abort(404, description=f"There is no film {movie_id}; it may have been deleted.")
        current = FilmForm.of_movie(movie)
    choices = genre_choices(load_mapping().genres, current.genres)
    if request.method == "GET":
        return render_film_form(current, choices, movie)
    form = FilmForm.submitted(request.form, choices)
    if not form.errors:
        with services().database.session() as db:
            check_unique(db, form, movie_id=movie_id)
    if form.errors:
        return render_film_form(form, choices, movie), 400
    try:
        MovieWriter(services().database.engine).write([form.record(movie_id, stored=movie)])
    except LookupError:
        abort(404, description=f"Film {movie_id} was deleted while you edited it.")
    flash(f"Saved {form.cleaned['title']}.", "success")
    return redirect(url_for("admin.movie_edit", movie_id=movie_id))


def render_film_form(form: FilmForm, choices: Sequence[str], movie: Movie | None = None
                     ) -> str:
    return render_template("admin/movie_form.html", form=form, choices=choices, movie=movie)


def check_unique(db: Session, form: FilmForm, movie_id: int | None) -> None:
    """Refuse what the writer would silently turn into something else: an IMDb id that is
    another film's (it would be left out), or a new film with the title and year of one in
    the catalog (it would update that one)."""
    imdb_id = form.cleaned["imdb_id"]
    if imdb_id:
        owner = db.execute(select(Movie.id, Movie.title)
                           .where(Movie.imdb_id == imdb_id, Movie.id != (movie_id or 0))).first()
        if owner is not None:
            form.errors["imdb_id"] = (f"{imdb_id} is already the IMDb id of {owner.title} "
                                      f"(film {owner.id}).")
            return
    if movie_id is None:
        title, year = form.cleaned["title"], form.cleaned["year"]
        same = select(Movie.id).where(Movie.title_key == title_key(title), Movie.year == year)
        if imdb_id:
            same = same.where(Movie.imdb_id.is_(None))
        existing = db.scalar(same.limit(1))
        if existing is not None:
            form.errors["title"] = (f"{title} ({year or 'no year'}) is already in the catalog "
                                    f"as film {existing}: edit that one instead.")


def added_movie_id(db: Session, form: FilmForm) -> int:
    """The id of the film just written for ``form`` (the newest with its IMDb id, or its
    title and year)."""
    cleaned = form.cleaned
    if cleaned["imdb_id"]:
        conditions = [Movie.imdb_id == cleaned["imdb_id"]]
    else:
        conditions = [Movie.title_key == title_key(cleaned["title"]),
                      Movie.year == cleaned["year"]]
    return db.scalar(select(func.max(Movie.id)).where(*conditions))


def movie_delete(movie_id: int) -> Any:
    """A confirmation page (GET) and the deletion itself (POST)."""
    with services().database.session() as db:
        movie = db.get(Movie, movie_id)
        if movie is None:
            abort(404, description=f"There is no film {movie_id}; it may have been deleted.")
        if request.method == "POST":
            db.execute(delete(Movie).where(Movie.id == movie_id))
        else:
            feedback = db.scalar(select(func.count(Feedback.id))
                                 .where(Feedback.movie_id == movie_id))
    if request.method == "POST":
        flash(f"Deleted {movie.title}.", "success")
        return redirect(url_for("admin.movies"))
    return render_template("admin/movie_delete.html", movie=movie, feedback=feedback)
