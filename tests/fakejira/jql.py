"""The sliver of JQL the connector's polling needs, read the way Jira reads it.

Supported: clauses joined by AND; `project = KEY` (or `in (A, B)`), `key`/`issuekey`,
`status`, `labels`, and `updated`/`created` compared (>=, >, <=, <, =) with
"yyyy/MM/dd HH:mm", "yyyy-MM-dd[ HH:mm]", a relative "-15m"/"-2h"/"-1d"/"-1w", or epoch
milliseconds, in the Jira user's time zone; `ORDER BY updated|created|key [ASC|DESC]`.
Anything else (OR, functions, other fields) matches every issue and is reported back in
`Query.unsupported`, so a test can see what the fake did not understand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from tests.fakejira.model import Issue, JiraError

_ORDER = re.compile(r"\s*\border\s+by\b\s*", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", re.IGNORECASE)
_CLAUSE = re.compile(r"^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<=|!=|=|>|<|\bnot\s+in\b|\bin\b)\s*(?P<value>.+?)\s*$",
                     re.IGNORECASE)
_RELATIVE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")


@dataclass
class Query:
    predicates: list[Callable[[Issue], bool]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, ascending)
    unsupported: list[str] = field(default_factory=list)

    @property
    def bounded(self) -> bool:
        """Cloud's enhanced search refuses a query without any restriction."""
        return bool(self.predicates or self.unsupported)

    def run(self, issues: Iterable[Issue]) -> list[Issue]:
        found = [i for i in issues if all(p(i) for p in self.predicates)]
        order = self.order or [("created", False)]
        for name, ascending in reversed([*order, ("id", True)]):
            found.sort(key=_SORT_KEYS.get(name, _SORT_KEYS["id"]), reverse=not ascending)
        return found


_SORT_KEYS: dict[str, Callable[[Issue], Any]] = {
    "updated": lambda i: i.updated, "created": lambda i: i.created, "id": lambda i: int(i.id),
    "key": lambda i: (i.project.key, int(i.key.rsplit("-", 1)[1])),
}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _values(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("(") and raw.endswith(")"):
        return [_unquote(v) for v in raw[1:-1].split(",") if v.strip()]
    return [_unquote(raw)]


def parse_time(value: str, now: datetime, tz: tzinfo) -> datetime:
    """A JQL date: absolute in the user's zone, relative to now, or epoch milliseconds."""
    value = _unquote(value)
    relative = _RELATIVE.match(value)
    if relative:
        sign, amount, unit = relative.groups()
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        return now - delta if sign == "-" else now + delta
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=tz)
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise JiraError(400, [f"Date value '{value}' for field 'updated' is invalid. Valid formats include: "
                          "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
                          "format e.g. '-5d', '4w 2d'."])


_COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _predicate(name: str, op: str, raw: str, now: datetime, tz: tzinfo) -> Callable[[Issue], bool] | None:
    op = " ".join(op.lower().split())
    if name in ("updated", "created") and op in _COMPARE:
        bound, compare = parse_time(raw, now, tz), _COMPARE[op]
        return lambda issue: compare(getattr(issue, name), bound)
    getters: dict[str, Callable[[Issue], set[str]]] = {
        "project": lambda i: {i.project.key.upper(), i.project.id, i.project.name.upper()},
        "key": lambda i: {i.key.upper(), i.id}, "issuekey": lambda i: {i.key.upper(), i.id},
        "status": lambda i: {i.status.name.upper(), i.status.id}, "labels": lambda i: {x.upper() for x in i.labels},
    }
    if name not in getters or op not in ("=", "!=", "in", "not in"):
        return None
    wanted, get = {v.upper() for v in _values(raw)}, getters[name]
    if op in ("=", "in"):
        return lambda issue: bool(get(issue) & wanted)
    return lambda issue: not get(issue) & wanted


def parse(jql: str, now: datetime, tz: tzinfo) -> Query:
    """A Query over the fake's issues; raises JiraError (400) on a malformed date like Jira."""
    query = Query()
    parts = _ORDER.split(jql or "", maxsplit=1)
    where = parts[0].strip()
    if len(parts) > 1:
        for term in parts[1].split(","):
            words = term.split()
            if words:
                query.order.append((words[0].lower(), not (len(words) > 1 and words[1].lower() == "desc")))
    if not where:
        return query
    for clause in _AND.split(where):
        match = _CLAUSE.match(clause)
        predicate = _predicate(match["field"].lower(), match["op"], match["value"], now, tz) if match else None
        if predicate is None:
            query.unsupported.append(clause.strip())
        else:
            query.predicates.append(predicate)
    return query
