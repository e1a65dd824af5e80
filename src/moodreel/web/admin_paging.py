"""Long admin lists (films, comments) shown a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Page:
    """Rows ``items`` of page ``number`` (from 1) of ``pages``, out of ``total`` rows."""

    items: list[Any]
    number: int
    pages: int
    total: int


def requested_page() -> int:
    """The ``?page=`` asked for; anything but a positive whole number means the first."""
    number = request.args.get("page", 1, type=int)
    return number if number and number > 0 else 1


def paginate(session: Session, statement: Select, number: int, size: int) -> Page:
    """Page ``number`` of ``statement``'s rows (an ordered select), ``size`` per page; a
    number past the end gives the last page."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    pages = max(1, -(-total // size))
    number = min(number, pages)
    items = list(session.execute(statement.limit(size).offset((number - 1) * size)))
    return Page(items, number, pages, total)
