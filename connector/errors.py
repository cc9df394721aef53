"""Errors a connector reports, sorted by what the caller should do about them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class PayloadError(ValueError):
    """A delivery is not a shape this connector knows (the sender gets a 400 with the reason)."""


# What reading a JSON document of an unexpected shape raises: null or a list where an object
# belongs, a string where a number does, a key or an element missing, a number out of range.
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError, ArithmeticError, RecursionError)


def reads_deliveries(function: Callable[P, R]) -> Callable[P, R]:
    """Mark a function that reads a delivery (or a tracker's issue): a value of the wrong type
    anywhere in it is a PayloadError naming what was wrong, so the intake answers 400 and the
    worker sets the delivery aside once, instead of taking it for a passing failure."""

    @functools.wraps(function)
    def reading(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except PayloadError:
            raise
        except SHAPE_ERRORS as exc:
            raise PayloadError(f"malformed delivery ({type(exc).__name__}: {str(exc)[:200]})") from exc

    return reading


class TrackerError(Exception):
    """A tracker call failed.

    `transient` says whether trying again later may succeed (timeouts, 5xx, 429, a tracker
    that is down); a permanent error (validation, not found) is dead-lettered at once.
    """

    def __init__(self, message: str, *, transient: bool, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after  # seconds the tracker asked to wait (Retry-After), if it said


class UnknownReference(LookupError):
    """A payload names an id (status, tracker, project...) the cached vocabulary lacks."""


@dataclass(frozen=True)
class Polled:
    """One happening found by a poller: its inbox key, its body, and the tracker's own time of
    the newest change on its ticket (the poller's watermark follows the tracker's clock)."""

    shape: str
    dedup_key: str
    body: dict[str, Any]
    updated: datetime | None
    ticket_id: str = ""  # the ticket it is about: one worker at a time decides on a ticket


@dataclass(frozen=True)
class Created:
    """An issue a connector created (or found already created under the same marker)."""

    id: str
    key: str
    url: str
    new: bool = True


@dataclass(frozen=True)
class WrittenText:
    """A page or an issue description ticketwarden keeps, as it stands in the tracker: its
    text, whether ticketwarden wrote the current version of it (no person has edited it
    since), its address, and the version a conditional write names (Redmine's wiki)."""

    text: str
    ours: bool
    url: str
    version: int | None = None
