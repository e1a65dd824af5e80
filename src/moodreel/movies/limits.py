"""What every backend's columns can hold, checked before a value reaches the database.

Integer columns are 32-bit on MariaDB/MySQL and PostgreSQL (SQLite's are 64-bit), and
PostgreSQL refuses text with a NUL character. A value beyond either is the caller's mistake,
not a database failure: it must come back as a clear error (or match nothing), never as a
driver's ``DataError`` that reads like an outage.
"""

from __future__ import annotations

import re

#: The largest value of an ``Integer`` column on every backend (32-bit, signed).
MAX_INTEGER = 2**31 - 1
#: Years a filter may ask for.
FILTER_YEARS = (0, 9999)

#: C0 control characters and DEL, except tab, line feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def is_row_id(value: int) -> bool:
    """Whether ``value`` can be a row's id (ids start at 1)."""
    return 1 <= value <= MAX_INTEGER


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds characters that have no place in a title or a comment (NUL,
    which PostgreSQL cannot store, among them)."""
    return _CONTROL.search(text) is not None


def without_control_characters(text: str) -> str:
    return _CONTROL.sub("", text)
