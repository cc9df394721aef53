"""The support process review (ISO 9001 9.3 input, 10.3 improvement): what the SLA review
meeting looks at once a month.

- Trends: each indicator month by month over the last 6-12 months, the newest month last.
- Targets: each indicator target of the rulebook (`indicators.targets`), met or missed in the
  newest month.
- The worst tickets: the breached clocks of the period that overran their target the most.
- Lessons learned: nonconformities and observations closed (after their effectiveness review)
  in the year, with their cause, the correction taken and the corrective action's dates; and
  the records per cause category, open and closed, most frequent first (a Pareto of causes).
- Decisions: a place for what the meeting decides, written once and never overwritten.

Read from the store like the report; rendered as text, Textile (a Redmine wiki page) or Jira
markup, and as a section of the HTML report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from rules.messages import DEFAULT, Messages
from rules.rulebook import INDICATOR_TARGET, Rulebook
from rules.sla import BREACHED
from ticketwarden.reports import cell_text, gather
from ticketwarden.sla import SlaBook
from ticketwarden.store import RecordRow, Store

RECORD_KINDS = ("nonconformity", "observation")
# The indicators a review shows when the rulebook sets no targets, in this order.
DEFAULT_TRENDS = ("incidents", "internal_rate", "breaches", "first_response_p90_hours", "resolution_p90_hours",
                  "nonconformities_opened", "satisfaction_average")


@dataclass(frozen=True)
class TargetCheck:
    figure: str
    wanted: str  # as the rulebook writes it: ">= 95%"
    value: float | None  # the newest month's
    met: bool | None  # None: no value this month


@dataclass(frozen=True)
class Overrun:
    tracker: str
    ticket_id: str
    policy: str
    over_hours: float  # business hours past the target


@dataclass(frozen=True)
class Lesson:
    kind: str
    key: str
    url: str
    category: str  # the rule that opened the record: what kind of failure it answers
    cause: str  # the root cause people found, else the cause the record was opened for
    correction: str
    corrective_action: str
    result: str  # of the effectiveness review
    action_due: str
    closed: str


@dataclass(frozen=True)
class CauseCount:
    category: str
    open: int
    closed: int
    cumulative_share: float  # percentage of all records up to and including this category


@dataclass(frozen=True)
class Review:
    months: tuple[str, ...]
    trends: dict[str, list[Any]]
    targets: tuple[TargetCheck, ...]
    worst: tuple[Overrun, ...]
    lessons: tuple[Lesson, ...]
    causes: tuple[CauseCount, ...]
    year: int


def month_bounds(last: datetime, months: int) -> list[datetime]:
    """The first instants (UTC) of the `months` calendar months ending with `last`'s, and of the
    month after: consecutive pairs are each month's [start, end)."""
    index = last.year * 12 + last.month - 1
    return [datetime(i // 12, i % 12 + 1, 1, tzinfo=UTC) for i in range(index - months + 1, index + 2)]


def build_review(store: Store, rulebook: Rulebook, end: datetime, months: int, now: datetime,
                 worst: int = 10) -> Review:
    """The review of the `months` months up to the one before `end` (a review looks back on
    whole months): `end` is normally the first day of the month being reviewed in."""
    bounds = month_bounds(end.replace(day=1) - timedelta(days=1), months)
    book = SlaBook(rulebook) if rulebook.sla else None  # the calendars' indexes, built once for every month
    labels, totals = [], []
    for start, stop in pairwise(bounds):
        labels.append(start.strftime("%Y-%m"))
        totals.append(gather(store, rulebook, start, stop, None, now, book).rows[-1])
    wanted = dict(rulebook.indicators.targets)
    names = [*wanted, *[name for name in DEFAULT_TRENDS if name not in wanted]]
    trends = {name: [row.get(name) for row in totals] for name in names}
    checks = tuple(_check(name, text, totals[-1].get(name) if totals else None) for name, text in wanted.items())
    records = [r for r in store.all_records() if r.kind in RECORD_KINDS]
    year = bounds[-2].year if len(bounds) > 1 else end.year
    overruns = _worst(store, rulebook, book, bounds[0], bounds[-1], now, worst)
    return Review(tuple(labels), trends, checks, tuple(overruns), tuple(_lessons(records, year)),
                  tuple(pareto(records)), year)


def _check(figure: str, wanted: str, value: Any) -> TargetCheck:
    match = INDICATOR_TARGET.match(wanted)
    if match is None or value is None:
        return TargetCheck(figure, wanted, value, None)
    goal, number = float(match["value"]), float(value)
    met = {"<=": number <= goal, ">=": number >= goal, "<": number < goal, ">": number > goal,
           "=": number == goal}[match["op"]]
    return TargetCheck(figure, wanted, number, met)


def _worst(store: Store, rulebook: Rulebook, book: SlaBook | None, start: datetime, end: datetime,
           now: datetime, count: int) -> list[Overrun]:
    """The breached clocks of incidents created in the period, by how far they overran."""
    if book is None:
        return []
    refs = {(row["tracker"], row["ticket_id"]) for row in store.facts_between(start, end)}
    overruns = []
    for row in store.clocks_of(refs):
        clock = row.clock
        if clock.policy not in rulebook.sla:
            continue
        status = book.status(clock, now)
        if status.breached_at is None and not clock.has(BREACHED):
            continue
        over = (status.elapsed - status.target).total_seconds() / 3600
        overruns.append(Overrun(clock.tracker, clock.ticket_id, clock.policy, round(max(over, 0.0), 2)))
    return sorted(overruns, key=lambda o: (-o.over_hours, o.tracker, o.ticket_id))[:count]


def _lessons(records: list[RecordRow], year: int) -> list[Lesson]:
    """The records closed in `year`, oldest first: what was learned, for the register."""
    closed = [r for r in records if r.closed_at is not None and r.closed_at.year == year]
    return [_lesson(r) for r in sorted(closed, key=lambda r: r.closed_at or r.created_at)]


def _lesson(record: RecordRow) -> Lesson:
    """A closed record as the register shows it: what people wrote in it when it closed
    (root cause, actions, result), with what it was opened for where they wrote nothing."""
    outcome = dict(record.detail.get("outcome") or {})
    return Lesson(record.kind, record.target_key or "", record.target_url or "", _category(record),
                  str(outcome.get("root_cause") or record.detail.get("cause") or record.cause),
                  str(record.detail.get("containment") or ""), str(outcome.get("corrective_action") or ""),
                  str(outcome.get("result") or ""), record.action_due.date().isoformat() if record.action_due else "",
                  record.closed_at.date().isoformat() if record.closed_at else "")


def _category(record: RecordRow) -> str:
    return str(record.detail.get("rule") or record.created_by or "other")


def pareto(records: list[RecordRow]) -> list[CauseCount]:
    """Records per cause category, most first, with the cumulative share: the few categories
    that make most of the records are where improvement pays."""
    opened = Counter(_category(r) for r in records)
    closed = Counter(_category(r) for r in records if r.closed_at is not None)
    total = sum(opened.values())
    counts, running = [], 0
    for category, count in sorted(opened.items(), key=lambda item: (-item[1], item[0])):
        running += count
        counts.append(CauseCount(category, count - closed[category], closed[category],
                                 round(100 * running / total, 1)))
    return counts


# -- rendering ---------------------------------------------------------------------------------

def render_review(review: Review, fmt: str, locale: str = "en", messages: Messages = DEFAULT,
                  links: tuple[str, str] | None = None) -> str:
    """The review as `text`, `textile` (Redmine wiki) or `jira` markup. `links` are the lessons
    register's and the decisions' places, written in place of the register's rows."""
    t = _texts(locale, messages)
    heading = "h3. " if fmt in ("textile", "jira") else "## "
    lines = [f"{heading}{t('trends')}", ""]
    lines += _grid(fmt, [t("indicator"), *review.months],
                   [[name, *[cell_text(v) for v in values]] for name, values in review.trends.items()])
    lines += ["", f"{heading}{t('targets')}", ""]
    lines += _grid(fmt, [t("indicator"), t("target"), review.months[-1] if review.months else "", t("result")],
                   [[c.figure, c.wanted, cell_text(c.value), t("met") if c.met else t("missed") if c.met is False
                     else "-"] for c in review.targets]) if review.targets else [t("no_targets")]
    lines += ["", f"{heading}{t('worst')}", ""]
    lines += _grid(fmt, [t("ticket"), t("policy"), t("over_hours")],
                   [[f"{o.tracker}:{o.ticket_id}", o.policy, cell_text(o.over_hours)] for o in review.worst]) \
        if review.worst else [t("no_breaches")]
    lines += ["", f"{heading}{t('causes')}", ""]
    lines += _grid(fmt, [t("category"), t("open"), t("closed"), t("cumulative")],
                   [[c.category, str(c.open), str(c.closed), f"{c.cumulative_share:g}%"] for c in review.causes]) \
        if review.causes else [t("no_records")]
    lines += [""]
    if links:
        lines += [f"{heading}{t('lessons', year=str(review.year))}", "", links[0], "",
                  f"{heading}{t('decisions')}", "", links[1]]
    else:
        lines += render_lessons(review, fmt, locale, messages).splitlines()
        lines += ["", f"{heading}{t('decisions')}", "", t("decisions_hint")]
    return "\n".join(lines) + "\n"


def render_lessons(review: Review, fmt: str, locale: str = "en", messages: Messages = DEFAULT) -> str:
    """The lessons-learned register of the review's year: the records closed in it."""
    t = _texts(locale, messages)
    heading = "h3. " if fmt in ("textile", "jira") else "## "
    lines = [f"{heading}{t('lessons', year=str(review.year))}", ""]
    lines += _grid(fmt, [t("record"), t("category"), t("cause"), t("correction"), t("corrective_action"),
                         t("result_of_review"), t("closed")],
                   [[_linked(lesson, fmt), lesson.category, lesson.cause, lesson.correction, lesson.corrective_action,
                     lesson.result, lesson.closed] for lesson in review.lessons]) \
        if review.lessons else [t("no_lessons")]
    return "\n".join(lines) + "\n"


def _texts(locale: str, messages: Messages) -> Any:
    def t(name: str, **values: Any) -> str:
        return messages.text(locale, f"review.{name}", **values)
    return t


def _linked(lesson: Lesson, fmt: str) -> str:
    label = lesson.key or lesson.kind
    if not lesson.url:
        return label
    if fmt == "textile":
        return f'"{label}":{lesson.url}'
    if fmt == "jira":
        return f"[{label}|{lesson.url}]"
    return f"{label} ({lesson.url})"


def _grid(fmt: str, header: list[str], rows: list[list[str]]) -> list[str]:
    clean = [[_escape(cell) for cell in row] for row in rows]
    if fmt == "textile":
        return ["|_. " + " |_. ".join(header) + " |"] + ["| " + " | ".join(row) + " |" for row in clean]
    if fmt == "jira":
        return ["||" + "||".join(header) + "||"] + ["|" + "|".join(cell or " " for cell in row) + "|" for row in clean]
    widths = [max(len(str(line[i])) for line in [header, *clean]) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)).rstrip()
            for line in [header, *clean]]


def _escape(cell: str) -> str:
    text = str(cell).replace("\n", " ")
    if text.startswith("[") and "|" in text:  # a Jira link keeps its bar
        return text
    return text.replace("|", "/")

