"""Alembic migrations of the movie tables, run by ``moodreel db init`` (``db.upgrade_schema``)
with the package's own configuration: no alembic.ini is needed.

A new revision after changing ``models.py`` (review the generated file before committing)::

    python -c "from moodreel.movies.db import new_revision; new_revision('add x', 'sqlite:///dev.db')"
"""
