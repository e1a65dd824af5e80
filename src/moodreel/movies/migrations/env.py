"""Alembic environment: runs on the connection that ``moodreel.movies.db`` hands over in
``config.attributes["connection"]``; configures no logging (the application does that)."""

from __future__ import annotations

from alembic import context

from moodreel.movies.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
