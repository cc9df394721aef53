"""Changes of multi-value fields (labels, components, fix versions, multi-selects, multi-user
pickers) as sets of values.

Trackers report them in two ways. Jira joins the values of each side into one text (labels with
spaces, `alpha beta`; other fields with commas, `API,Web`) and reports components and versions
as one changelog item per value that came or went; Redmine gives one journal detail per value
of a multi-value custom field (no old value and the new one for an addition, the old one and no
new one for a removal). Either way the question a rule asks is the same: which values came,
which went. These helpers turn both forms into one Change per field with `added` and `removed`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from rules.model import Change


def split_values(text: str | None, separator: str | None) -> tuple[str, ...]:
    """The values of one joined side: `separator` None splits on whitespace (Jira labels)."""
    if not text:
        return ()
    parts = text.split() if separator is None else text.split(separator)
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


def set_change(field: str, before: Iterable[str], after: Iterable[str], *, field_id: str = "",
               old: str | None = None, new: str | None = None) -> Change:
    """The change from the values `before` to `after`: what came and what went. `old` and `new`
    keep the tracker's own text of each side; by default the values joined with `, `."""
    before, after = tuple(dict.fromkeys(before)), tuple(dict.fromkeys(after))
    return Change(field, old if old is not None else _joined(before), new if new is not None else _joined(after),
                  field_id, added=tuple(v for v in after if v not in before),
                  removed=tuple(v for v in before if v not in after))


def fold(changes: Sequence[Change], current: Mapping[str, Sequence[str]] | None = None) -> tuple[Change, ...]:
    """One change per multi-value field, in the place of its first report.

    Reports of the same field (one per value, as Jira does for components and Redmine for
    multi-value custom fields) add up; `current` gives a field's values after the change, where
    known, so a change reported per value shows the whole sets before and after, not just the
    values that moved (a report of both whole sides keeps the tracker's own text).
    """
    merged: dict[str, Change] = {}
    order: list[Change | str] = []
    for change in changes:
        if not change.of_values:
            order.append(change)
            continue
        if change.field not in merged:
            order.append(change.field)
            merged[change.field] = change
            continue
        first = merged[change.field]
        added, removed = first.added + change.added, first.removed + change.removed
        both = set(added) & set(removed)  # a value that came and went in one save did neither
        merged[change.field] = dataclasses.replace(
            first, old=None, new=None, added=tuple(v for v in dict.fromkeys(added) if v not in both),
            removed=tuple(v for v in dict.fromkeys(removed) if v not in both))
    out = []
    for item in order:
        if isinstance(item, Change):
            out.append(item)
            continue
        change = merged[item]
        per_value = change.old is None or change.new is None
        out.append(_whole(change, (current or {}).get(item) if per_value else None))
    return tuple(out)


def of_details(changes: Sequence[Change], current: Mapping[str, Sequence[str]]) -> tuple[Change, ...]:
    """Changes where each report of a multi-value field (named in `current`, with its values
    after the change) is one value coming (no old value) or going (no new one), folded into one
    change per field."""
    values = [set_change(c.field, _one(c.old), _one(c.new), field_id=c.field_id, old=c.old, new=c.new)
              if c.field in current and not c.of_values else c for c in changes]
    return fold(values, current)


def _whole(change: Change, after: Sequence[str] | None) -> Change:
    """The change with its full sets: the values after it, and before it (undoing it)."""
    if after is None:
        if change.old is None and change.new is None:
            return dataclasses.replace(change, old=_joined(change.removed), new=_joined(change.added))
        return change
    now = tuple(str(value) for value in after)
    before = tuple(v for v in now if v not in change.added) + tuple(v for v in change.removed if v not in now)
    return dataclasses.replace(change, old=_joined(before), new=_joined(now))


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _joined(values: Sequence[str]) -> str | None:
    return ", ".join(values) or None
