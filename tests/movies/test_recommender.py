"""The recommender: seeded randomness, no repeats, filters, genre diversity, the "lift" guard,
the Bayesian quality prior, reasons, and feedback that moves the weights (or not)."""

from __future__ import annotations

import csv
import random
from collections import Counter

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from moodreel.labels import EMOTIONS
from moodreel.movies.catalog import BUILTIN_CATALOG, load_builtin_catalog
from moodreel.movies.feedback import (
    add_feedback_comment,
    current_weights,
    posterior_weight,
    record_feedback,
)
from moodreel.movies.mapping import load_mapping
from moodreel.movies.models import Genre
from moodreel.movies.mood import mood_probabilities
from moodreel.movies.recommender import MAX_GENRE_SHARE, recommend_movies
from moodreel.movies.titles import title_key

GENRES = load_mapping().genres


@pytest.fixture
def catalog(add_movies) -> dict[str, int]:
    """240 synthetic films: one to three genres each, ratings 5-9, votes 10-100,000."""
    rng = random.Random(7)
    films = [(f"Film {n:03d}", 1930 + n % 95, "|".join(rng.sample(GENRES, rng.randint(1, 3))),
              round(rng.uniform(5, 9), 1), rng.randint(10, 100_000)) for n in range(240)]
    return add_movies(*films)


def titles(films) -> list[str]:
    return [film.title for film in films]


def test_same_seed_same_list_other_seeds_differ(session: Session, catalog) -> None:
    first = recommend_movies(session, {"happy": 1.0}, seed=11)
    assert len(first) == 10
    assert titles(recommend_movies(session, {"happy": 1.0}, seed=11)) == titles(first)
    others = {tuple(titles(recommend_movies(session, {"happy": 1.0}, seed=s)))
              for s in range(5)}
    assert len(others) == 5
    unseeded = {tuple(titles(recommend_movies(session, {"happy": 1.0}))) for _ in range(3)}
    assert len(unseeded) > 1


def test_another_list_never_repeats_a_film(session: Session, catalog) -> None:
    shown: list[int] = []
    for seed in range(4):
        films = recommend_movies(session, {"sad": 0.7, "neutral": 0.3}, strategy="lift",
                                 exclude=shown, seed=seed)
        assert len(films) == 10
        assert not {film.movie_id for film in films} & set(shown)
        shown += [film.movie_id for film in films]
    assert len(set(shown)) == 40


def test_a_small_genre_runs_out_instead_of_repeating(session: Session, add_movies) -> None:
    ids = add_movies(*[(f"Western {n}", 1960, "Western", 7.0, 100) for n in range(12)])
    seen: list[int] = []
    sizes = []
    for seed in range(3):
        films = recommend_movies(session, {"angry": 1.0}, genre="western", exclude=seen,
                                 seed=seed)
        sizes.append(len(films))
        seen += [film.movie_id for film in films]
    assert sizes == [10, 2, 0]
    assert sorted(seen) == sorted(ids.values())


def test_filters(session: Session, catalog) -> None:
    films = recommend_movies(session, {"fear": 1.0}, genre="Comedy", seed=1)
    assert films and all("Comedy" in film.genres for film in films)
    films = recommend_movies(session, {"happy": 1.0}, year_min=1990, year_max=1999, seed=1)
    assert films and all(1990 <= film.year <= 1999 for film in films)
    films = recommend_movies(session, {"happy": 1.0}, min_rating=8.5, seed=1)
    assert films and all(film.rating >= 8.5 for film in films)
    with pytest.raises(ValueError, match="unknown genre 'Cartoons'"):
        recommend_movies(session, {"happy": 1.0}, genre="Cartoons")


def test_lists_are_diverse_in_genre(session: Session, catalog) -> None:
    cap = round(10 * MAX_GENRE_SHARE)
    for seed in range(10):
        films = recommend_movies(session, {"happy": 1.0}, seed=seed)
        by_genre = Counter(film.reason.split(" - ")[0] for film in films)
        assert max(by_genre.values()) <= cap and len(by_genre) >= 3, by_genre


def test_lift_guard_keeps_horror_and_war_from_sad_or_fearful_moods(session: Session,
                                                                   add_movies) -> None:
    add_movies(("Scary Comedy", 2000, "Comedy|Horror", 9.5, 900_000),
               ("Funny War", 2001, "Comedy|War", 9.5, 900_000),
               *[(f"Plain Comedy {n}", 2002, "Comedy", 6.0, 100) for n in range(10)])
    guarded = {"Scary Comedy", "Funny War"}
    for mood in ({"sad": 1.0}, {"fear": 1.0}, {"sad": 0.2, "fear": 0.2, "happy": 0.6}):
        for seed in range(15):
            films = recommend_movies(session, mood, strategy="lift", count=5, seed=seed)
            assert not guarded & set(titles(films)), (mood, seed)
    # The guard, not the weights, is what keeps them out: for a happy mood they come back.
    happy = set().union(*(titles(recommend_movies(session, {"happy": 1.0}, strategy="lift",
                                                  count=5, seed=seed)) for seed in range(15)))
    assert guarded <= happy
    with pytest.raises(ValueError, match="never recommended"):
        recommend_movies(session, {"sad": 1.0}, strategy="lift", genre="Horror")
    assert recommend_movies(session, {"sad": 1.0}, strategy="match", genre="War", seed=0)


def test_bayesian_prior_one_vote_does_not_beat_ten_thousand(session: Session,
                                                            add_movies) -> None:
    # MovieLens' 5.0 and 4.2 stars, on the 0-10 scale.
    add_movies(("One Vote Wonder", 2010, "Comedy", 10.0, 1),
               ("Crowd Favourite", 2010, "Comedy", 8.4, 10_000))
    films = {film.title: film for film in recommend_movies(session, {"happy": 1.0}, seed=0)}
    assert films["Crowd Favourite"].score > films["One Vote Wonder"].score
    wins = Counter(recommend_movies(session, {"happy": 1.0}, count=1, seed=s)[0].title
                   for s in range(200))
    assert wins["Crowd Favourite"] > 1.5 * wins["One Vote Wonder"], wins


def test_each_film_says_why(session: Session, add_movies) -> None:
    add_movies(("Cheer Up", 2015, "Comedy", 7.5, 5000), ("Gloom", 2015, "Drama", 7.5, 5000))
    lifted = recommend_movies(session, {"sad": 1.0}, strategy="lift", seed=0)
    assert [(f.title, f.reason) for f in lifted] == [("Cheer Up", "Comedy - lifts a sad mood")]
    matched = recommend_movies(session, {"sad": 1.0}, strategy="match", seed=0)
    assert ("Gloom", "Drama - matches a sad mood") in [(f.title, f.reason) for f in matched]
    data = lifted[0].to_dict()
    assert data["genres"] == ["Comedy"] and set(data) >= {"movie_id", "title", "year", "reason"}


def test_mood_input_forms() -> None:
    assert mood_probabilities({"Happy": 3, "sad": 1}) == {"happy": 0.75, "sad": 0.25}
    seven = [0.0] * 7
    seven[EMOTIONS.index("fear")] = 2.0
    assert mood_probabilities(seven) == {"fear": 1.0}
    assert mood_probabilities([0.0, 1.0, 0.0, 1.0]) == {"sad": 0.5, "angry": 0.5}
    for bad, message in (({"scared": 1}, "unknown emotion"), ({"happy": -1}, ">= 0"),
                         ({"happy": 0}, "add up to 0"), ([1, 2, 3], "7 or 4"),
                         ({"happy": "lots"}, "not a number"),
                         ({"happy": float("nan")}, "finite")):
        with pytest.raises(ValueError, match=message):
            mood_probabilities(bad)


def test_bad_arguments(session: Session) -> None:
    for kwargs, message in (({"strategy": "calm"}, "unknown strategy"),
                            ({"count": 0}, "count"), ({"count": 101}, "count"),
                            ({"year_min": 2000, "year_max": 1990}, "empty year range"),
                            ({"min_rating": 11}, "min rating")):
        with pytest.raises(ValueError, match=message):
            recommend_movies(session, {"happy": 1.0}, **kwargs)


def test_four_and_seven_emotion_inputs_give_the_same_list(session: Session, catalog) -> None:
    basic = recommend_movies(session, [0.0, 1.0, 0.0, 0.0], seed=3)  # happy, sad, neutral, angry
    full = recommend_movies(session, {"sad": 1.0}, seed=3)
    assert titles(basic) == titles(full)


def test_feedback_moves_weights_and_learning_can_be_switched_off(engine: Engine,
                                                                 add_movies) -> None:
    ids = add_movies(("Cheer Up", 2015, "Comedy", 7.5, 5000),
                     *[(f"Family Film {n}", 2015, "Family", 7.5, 5000) for n in range(10)],
                     *[(f"Comedy {n}", 2015, "Comedy", 7.5, 5000) for n in range(10)])
    mood = {"sad": 1.0}
    with Session(engine) as session:
        comedy = session.query(Genre.id).filter_by(name="Comedy").scalar()
        before = current_weights(session, "lift", mood)["sad"][comedy]
        counts_before = Counter("Comedy" in f.genres for s in range(30) for f in
                                recommend_movies(session, mood, strategy="lift", seed=s))
    with Session(engine) as session, session.begin():
        for _ in range(20):
            record_feedback(session, ids["Cheer Up"], False, mood, strategy="lift",
                            comment="not in the mood", session_id="abc")
        record_feedback(session, ids["Cheer Up"], True, {"sad": 0.5, "happy": 0.5},
                        strategy="lift")
    with Session(engine) as session:
        learned = current_weights(session, "lift", mood)["sad"][comedy]
        assert learned == pytest.approx(posterior_weight(before, 0.5, 20.0))
        assert learned < before / 2
        assert current_weights(session, "lift", mood, learning=False)["sad"][comedy] == before
        counts_after = Counter("Comedy" in f.genres for s in range(30) for f in
                               recommend_movies(session, mood, strategy="lift", seed=s))
        assert counts_after[True] < counts_before[True] / 2
        counts_off = Counter("Comedy" in f.genres for s in range(30) for f in
                             recommend_movies(session, mood, strategy="lift", seed=s,
                                              learning=False))
        assert counts_off == counts_before


def test_feedback_errors(session: Session, catalog) -> None:
    with pytest.raises(LookupError, match="no movie with id"):
        record_feedback(session, 10**9, True, {"happy": 1.0}, strategy="lift")
    with pytest.raises(ValueError, match="unknown strategy"):
        record_feedback(session, next(iter(catalog.values())), True, {"happy": 1.0},
                        strategy="up")
    with pytest.raises(ValueError, match="add up to 0"):
        record_feedback(session, next(iter(catalog.values())), True, {"happy": 0.0},
                        strategy="lift")


def test_values_beyond_the_columns_are_errors_or_match_nothing(session: Session,
                                                               catalog) -> None:
    """Ids and years past 32 bits once reached PostgreSQL, which refused them ("integer out
    of range"): an id no film can have excludes nothing, a year past 9999 is a ValueError,
    feedback for such an id is an unknown film."""
    plain = titles(recommend_movies(session, {"sad": 1.0}, seed=5))
    assert titles(recommend_movies(session, {"sad": 1.0}, seed=5,
                                   exclude=[2**31, 10**22, 0, -3])) == plain
    for kwargs in ({"year_min": 2**40}, {"year_max": -1}):
        with pytest.raises(ValueError, match="must be a year from 0 to 9999"):
            recommend_movies(session, {"sad": 1.0}, **kwargs)
    with pytest.raises(LookupError, match="no movie with id"):
        record_feedback(session, 2**40, True, {"happy": 1.0}, strategy="lift")
    with pytest.raises(LookupError, match="no feedback"):
        add_feedback_comment(session, 2**40, "tab", "why")


def test_feedback_comments_keep_no_control_characters(session: Session, catalog) -> None:
    """PostgreSQL cannot store NUL; no comment needs it, or a bell."""
    event = record_feedback(session, next(iter(catalog.values())), True, {"happy": 1.0},
                            strategy="lift", comment="too\x00 dark\x07\n", session_id="tab")
    assert event.comment == "too dark"
    assert add_feedback_comment(session, event.id, "tab", "\x00slow\tstart").comment \
        == "slow\tstart"
    session.commit()


def test_builtin_catalog_is_broad_and_clean(engine: Engine) -> None:
    with BUILTIN_CATALOG.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 400
    assert set(rows[0]) == {"title", "year", "genres"}  # facts only
    assert len({(title_key(r["title"]), r["year"]) for r in rows}) == len(rows)
    decades = Counter(int(r["year"]) // 10 * 10 for r in rows)
    assert all(decades[d] >= 10 for d in range(1920, 2030, 10)), decades
    genres = Counter(g for r in rows for g in r["genres"].split("|"))
    assert set(genres) == set(GENRES) and min(genres.values()) >= 20, genres

    report = load_builtin_catalog(engine)
    assert report is not None and (report.inserted, report.skipped) == (len(rows), 0)
    assert load_builtin_catalog(engine) is None  # never over an existing catalog
    with Session(engine) as session:
        for emotion in EMOTIONS:
            for strategy in ("match", "lift"):
                films = recommend_movies(session, {emotion: 1.0}, strategy=strategy, seed=0)
                assert len(films) == 10, (emotion, strategy)
