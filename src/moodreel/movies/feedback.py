"""Likes and dislikes, and how they refine the emotion -> genre weights.

Each weight is the mean of a Beta prior worth ``PRIOR_STRENGTH`` pseudo-votes centred on the
configured weight; every thumbs up or down on a film adds, for each emotion of the mood it
was given in and each genre of the film, ``p(emotion)`` of a like or a dislike. The posterior
mean is what the recommender uses, unless learning is switched off (``learning=False``), in
which case the configured weights are used as they are and feedback is only stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moodreel.movies.limits import is_row_id, without_control_characters
from moodreel.movies.mapping import check_strategy
from moodreel.movies.models import Feedback, FeedbackStat, GenreWeight, Movie, MovieGenre
from moodreel.movies.mood import mood_probabilities

#: How many pseudo-votes the configured weight is worth against real feedback.
PRIOR_STRENGTH = 10.0
COMMENT_LENGTH = 2000

# The recommender's per-call queries, built once (building costs more than running them).
CONFIGURED_WEIGHTS = select(GenreWeight.emotion, GenreWeight.genre_id, GenreWeight.weight).where(
    GenreWeight.strategy == bindparam("strategy"),
    GenreWeight.emotion.in_(bindparam("emotions", expanding=True)))
FEEDBACK_COUNTS = select(FeedbackStat.emotion, FeedbackStat.genre_id, FeedbackStat.likes,
                         FeedbackStat.dislikes).where(
    FeedbackStat.strategy == bindparam("strategy"),
    FeedbackStat.emotion.in_(bindparam("emotions", expanding=True)))


def posterior_weight(weight: float, likes: float, dislikes: float,
                     strength: float = PRIOR_STRENGTH) -> float:
    """Mean of Beta(strength * weight + likes, strength * (1 - weight) + dislikes)."""
    return (strength * weight + likes) / (strength + likes + dislikes)


def current_weights(session: Session, strategy: str, emotions: Iterable[str], *,
                    learning: bool = True) -> dict[str, dict[int, float]]:
    """``{emotion: {genre_id: weight}}`` for ``strategy``: the configured weights, refined by
    feedback when ``learning`` is on. A genre absent from the result weighs 0."""
    emotions = list(emotions)
    weights: dict[str, dict[int, float]] = {emotion: {} for emotion in emotions}
    asked = {"strategy": strategy, "emotions": emotions}
    connection = session.connection()  # Core: plain rows, without the ORM's overhead
    for emotion, genre_id, weight in connection.execute(CONFIGURED_WEIGHTS, asked).all():
        weights[emotion][genre_id] = weight
    if learning:
        for emotion, genre_id, likes, dislikes in connection.execute(FEEDBACK_COUNTS,
                                                                     asked).all():
            base = weights[emotion].get(genre_id, 0.0)
            weights[emotion][genre_id] = posterior_weight(base, likes, dislikes)
    return weights


def record_feedback(session: Session, movie_id: int, liked: bool,
                    mood: Mapping[str, float] | Sequence[float], *, strategy: str,
                    comment: str | None = None, session_id: str | None = None) -> Feedback:
    """Store one thumbs up/down for ``movie_id`` given for ``mood`` (any form
    ``mood_probabilities`` takes) and count it towards the Beta-Bernoulli estimate of each
    (emotion, genre) of the film. Raises ``LookupError`` for an unknown film and
    ``ValueError`` for a bad mood or strategy."""
    emotions = mood_probabilities(mood)
    check_strategy(strategy)
    if not is_row_id(movie_id) or session.get(Movie, movie_id) is None:
        raise LookupError(f"no movie with id {movie_id}")
    event = Feedback(movie_id=movie_id, liked=bool(liked), strategy=strategy,
                     emotions_json=json.dumps(dict(emotions), sort_keys=True),
                     comment=_stored_comment(comment or ""),
                     session_id=session_id)
    session.add(event)
    genre_ids = session.scalars(
        select(MovieGenre.genre_id).where(MovieGenre.movie_id == movie_id)).all()
    column = "likes" if liked else "dislikes"
    for emotion, p in emotions.items():
        for genre_id in genre_ids:
            _add(session, strategy, emotion, genre_id, column, float(p))
    session.flush()
    return event


def _add(session: Session, strategy: str, emotion: str, genre_id: int, column: str,
         amount: float) -> None:
    """Add ``amount`` to one counter, creating its row: an UPDATE that touches no row is
    followed by an INSERT (inside a savepoint, so a concurrent insert of the same row is
    retried as an update instead of failing the request)."""
    key = (FeedbackStat.strategy == strategy, FeedbackStat.emotion == emotion,
           FeedbackStat.genre_id == genre_id)
    counter = getattr(FeedbackStat, column)
    increment = update(FeedbackStat).where(*key).values({column: counter + amount})
    if session.execute(increment).rowcount:
        return
    try:
        with session.begin_nested():
            session.execute(insert(FeedbackStat).values(
                strategy=strategy, emotion=emotion, genre_id=genre_id,
                likes=amount if column == "likes" else 0.0,
                dislikes=amount if column == "dislikes" else 0.0))
    except IntegrityError:
        session.execute(increment)


def add_feedback_comment(session: Session, feedback_id: int, session_id: str,
                         comment: str) -> Feedback:
    """Attach the reason given after a thumb: only from the browser session that gave the
    thumb (the random ``session_id`` is the proof). ``LookupError`` for an unknown id or
    another session's feedback (indistinguishable on purpose)."""
    event = session.get(Feedback, feedback_id) if is_row_id(feedback_id) else None
    if event is None or event.session_id is None or event.session_id != session_id:
        raise LookupError(f"no feedback {feedback_id} from this session")
    event.comment = _stored_comment(comment)
    session.flush()
    return event


def _stored_comment(comment: str) -> str | None:
    """The comment as kept: without control characters, trimmed, at most
    ``COMMENT_LENGTH`` characters; ``None`` when nothing is left."""
    return without_control_characters(comment).strip()[:COMMENT_LENGTH] or None
