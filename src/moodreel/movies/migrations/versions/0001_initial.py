"""Initial schema: movies, genres, movie_genres, genre_weights, feedback, feedback_stats.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "genres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_genres"),
        sa.UniqueConstraint("name", name="uq_genres_name"),
    )
    op.create_table(
        "movies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_key", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("runtime", sa.Integer(), nullable=True),
        sa.Column("imdb_id", sa.String(length=12), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("movielens_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Double(), nullable=True),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Double(), nullable=False),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_movies"),
        sa.UniqueConstraint("imdb_id", name="uq_movies_imdb_id"),
        sa.UniqueConstraint("movielens_id", name="uq_movies_movielens_id"),
        sa.UniqueConstraint("tmdb_id", name="uq_movies_tmdb_id"),
    )
    op.create_index("ix_movies_title_key_year", "movies", ["title_key", "year"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("liked", sa.Boolean(), nullable=False),
        sa.Column("strategy", sa.String(length=8), nullable=False),
        sa.Column("emotions_json", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["movie_id"], ["movies.id"], ondelete="CASCADE",
                                name="fk_feedback_movie_id_movies"),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_movie_id", "feedback", ["movie_id"])
    for table, value_columns in (
        ("feedback_stats", [sa.Column("likes", sa.Double(), nullable=False),
                            sa.Column("dislikes", sa.Double(), nullable=False)]),
        ("genre_weights", [sa.Column("weight", sa.Double(), nullable=False)]),
    ):
        op.create_table(
            table,
            sa.Column("strategy", sa.String(length=8), nullable=False),
            sa.Column("emotion", sa.String(length=16), nullable=False),
            sa.Column("genre_id", sa.Integer(), nullable=False),
            *value_columns,
            sa.ForeignKeyConstraint(["genre_id"], ["genres.id"], ondelete="CASCADE",
                                    name=f"fk_{table}_genre_id_genres"),
            sa.PrimaryKeyConstraint("strategy", "emotion", "genre_id", name=f"pk_{table}"),
        )
    op.create_table(
        "movie_genres",
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("genre_id", sa.Integer(), nullable=False),
        sa.Column("quality", sa.Double(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Double(), nullable=True),
        sa.Column("genre_ids", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["genre_id"], ["genres.id"], ondelete="CASCADE",
                                name="fk_movie_genres_genre_id_genres"),
        sa.ForeignKeyConstraint(["movie_id"], ["movies.id"], ondelete="CASCADE",
                                name="fk_movie_genres_movie_id_movies"),
        sa.PrimaryKeyConstraint("movie_id", "genre_id", name="pk_movie_genres"),
    )
    op.create_index("ix_movie_genres_rank", "movie_genres",
                    ["genre_id", "quality", "movie_id", "year", "rating", "genre_ids"])


def downgrade() -> None:
    for table in ("movie_genres", "genre_weights", "feedback_stats", "feedback", "movies",
                  "genres"):
        op.drop_table(table)
