"""The quality prior: a Bayesian average of the rating, so that a film with one vote at the
top of the scale does not beat one with ten thousand votes just below it.

    quality = (votes * rating + PRIOR_VOTES * PRIOR_RATING) / (votes + PRIOR_VOTES)

The prior is fixed (not the catalog mean) so each row's quality is known when it is written:
no catalog-wide recomputation after an import, and the recommend query can read it from an
index. Ratings are on a 0-10 scale (MovieLens' 0.5-5 stars are doubled on import).
"""

from __future__ import annotations

PRIOR_RATING = 6.5
PRIOR_VOTES = 50
RATING_SCALE = 10.0


def bayesian_quality(rating: float | None, votes: int | None) -> float:
    """Bayesian average on the 0-10 scale; unrated films get the prior mean."""
    if rating is None or not votes or votes <= 0:
        return PRIOR_RATING
    return (votes * rating + PRIOR_VOTES * PRIOR_RATING) / (votes + PRIOR_VOTES)
