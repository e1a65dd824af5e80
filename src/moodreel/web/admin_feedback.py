"""The feedback page of the admin: how many thumbs, for which moods and strategies, which
films people like and dislike most, and what they wrote."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template
from sqlalchemy import Row, case, func, select
from sqlalchemy.orm import Session

from moodreel.labels import EMOTIONS
from moodreel.movies.mapping import STRATEGIES
from moodreel.movies.models import Feedback, Movie
from moodreel.web.admin_paging import paginate, requested_page
from moodreel.web.services import services

TOP_FILMS = 10
COMMENTS_PER_PAGE = 20

#: {emotion: {strategy: [likes, dislikes]}}
MoodCounts = dict[str, dict[str, list[int]]]


def feedback() -> Any:
    comments = (select(Feedback.id, Feedback.liked, Feedback.strategy, Feedback.comment,
                       Feedback.created_at, Feedback.movie_id, Movie.title, Movie.year)
                .join(Movie, Movie.id == Feedback.movie_id)
                .where(Feedback.comment.is_not(None))
                .order_by(Feedback.created_at.desc(), Feedback.id.desc()))
    with services().database.session() as db:
        by_mood = counts_by_mood(db)
        liked, disliked = top_films(db, liked=True), top_films(db, liked=False)
        page = paginate(db, comments, requested_page(), COMMENTS_PER_PAGE)
    cells = [counts for per_strategy in by_mood.values() for counts in per_strategy.values()]
    likes, dislikes = sum(cell[0] for cell in cells), sum(cell[1] for cell in cells)
    return render_template("admin/feedback.html", likes=likes, dislikes=dislikes,
                           by_mood=by_mood, liked=liked, disliked=disliked, page=page)


def dominant_emotion(emotions: dict[str, float]) -> str:
    """The most probable emotion of a mood (ties go to the first in FER order)."""
    return max(EMOTIONS, key=lambda emotion: emotions.get(emotion, 0.0))


def counts_by_mood(db: Session) -> MoodCounts:
    """Likes and dislikes per dominant emotion of the mood they were given for, and per
    strategy."""
    counts: MoodCounts = {emotion: {strategy: [0, 0] for strategy in STRATEGIES}
                          for emotion in EMOTIONS}
    rows = db.execute(select(Feedback.liked, Feedback.strategy, Feedback.emotions_json)
                      .execution_options(yield_per=1000))
    for liked, strategy, emotions_json in rows:
        per_strategy = counts[dominant_emotion(json.loads(emotions_json))]
        per_strategy.setdefault(strategy, [0, 0])[0 if liked else 1] += 1
    return counts


def top_films(db: Session, *, liked: bool) -> list[Row]:
    """The ``TOP_FILMS`` films with the most likes (or dislikes), with both counts."""
    likes = func.sum(case((Feedback.liked, 1), else_=0))
    dislikes = func.sum(case((Feedback.liked, 0), else_=1))
    most, least = (likes, dislikes) if liked else (dislikes, likes)
    return list(db.execute(
        select(Movie.id, Movie.title, Movie.year, likes.label("likes"),
               dislikes.label("dislikes"))
        .join(Feedback, Feedback.movie_id == Movie.id)
        .group_by(Movie.id, Movie.title, Movie.year)
        .having(most > 0)
        .order_by(most.desc(), least, Movie.title)
        .limit(TOP_FILMS)))
