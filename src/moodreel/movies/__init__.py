"""Movies: where the catalog lives and how a mood becomes a list of films.

    models.py       SQLAlchemy tables (movies, genres, weights, feedback)
    db.py           engine, sessions, migrations (Alembic), ``DatabaseUnavailable``
    mapping.py      genre vocabulary and the default emotion -> genre weights (an asset)
    titles.py       title conventions: "Matrix, The (1999)", match keys
    quality.py      the Bayesian-average quality prior
    upsert.py       idempotent batched writes shared by every importer
    importers.py    MovieLens, IMDb and generic CSV readers
    catalog.py      the built-in catalog, weight seeding, statistics
    mood.py         a mood: probabilities over 7 or 4 emotions, checked and normalised
    recommender.py  ``recommend_movies``: a mood -> films, with reasons
    feedback.py     likes and dislikes that refine the weights
    cli.py          ``moodreel db ...`` and ``moodreel recommend``

Nothing here depends on the vision side: the input is emotion probabilities. Importing this
package is cheap; SQLAlchemy is loaded by the submodules that need it.
"""
