"""Fitting a run into the time it has.

Why: a run here is cut off with its machine: a session ends at a fixed hour, and a lent GPU
call at its time limit. A cosine schedule cut short ends at a high learning rate and keeps a
poorer model than a shorter schedule run to its end. With a time limit, a fresh run measures
its first epoch and shortens its schedule to the epochs that fit, so it ends annealed; and
no epoch starts that would end past the limit, should later epochs be slower than the first.
The limit counts this invocation's epochs (their training and val passes), so a resumed run
gets it afresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float) -> float:
    """Seconds from a number of seconds or a string such as ``"5400"``, ``"90m"``, ``"1.5h"``;
    ``ValueError`` for anything else."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.fullmatch(str(text).strip().lower())
        if match is None:
            raise ValueError(f"time limit {text!r}: expected seconds or a number with s, m "
                             "or h (e.g. 5400, 90m, 1.5h)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"time limit {text!r}: must not be negative")
    return seconds


@dataclass(frozen=True)
class TimeLimit:
    """Seconds of epochs a run may spend in one invocation; 0 means no limit."""

    seconds: float

    def fitted_epochs(self, first_epoch_seconds: float, epochs: int) -> int:
        """The epochs that fit at the first epoch's pace: at least that one, at most
        ``epochs``."""
        if not self.seconds:
            return epochs
        return max(1, min(epochs, int(self.seconds // max(first_epoch_seconds, 1e-9))))

    def allows_another(self, epoch_seconds: list[float]) -> bool:
        """Whether one more epoch, as slow as the slowest so far, would end within the limit."""
        return (not self.seconds or not epoch_seconds
                or sum(epoch_seconds) + max(epoch_seconds) <= self.seconds)
