"""Suggestions for misspelt names: the one closest to what was written, case aside."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(value: str, known: Iterable[Any]) -> str:
    """`: did you mean 'Resolved'?` for the closest known name, or nothing when none is close.
    Dotted names are compared by their last part too (`ticket.nope` is not `ticket.reopened`)."""
    names = {str(name).casefold(): str(name) for name in known}
    wanted = str(value).casefold()
    for close in difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6):
        if _last_parts_close(wanted, close):
            return f": did you mean {names[close]!r}?"
    return ""


def _last_parts_close(written: str, known: str) -> bool:
    head, _, tail = written.rpartition(".")
    known_head, _, known_tail = known.rpartition(".")
    if not head or head != known_head:
        return True
    return difflib.SequenceMatcher(None, tail, known_tail).ratio() >= 0.6
