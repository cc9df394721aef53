"""The quality indicators (ISO 9001 9.1.1), pure: figures per group and the series the charts
draw, from rows the store holds (ticket facts, SLA clock figures, records, survey answers).

Every figure is defined in docs/reports.md; the names here are the names there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rules.rulebook import OriginPolicy

# Time-to-resolution histogram buckets: (label, upper bound in business hours).
RESOLUTION_BUCKETS = (("< 1h", 1.0), ("1-4h", 4.0), ("4-8h", 8.0), ("8-24h", 24.0), ("1-3d", 72.0),
                      ("> 3d", math.inf))


@dataclass(frozen=True)
class ClockFigure:
    """One SLA clock cycle, as the report needs it."""

    tracker: str
    ticket_id: str
    policy: str
    priority: str
    stopped: bool
    breached: bool
    elapsed: timedelta  # business time the clock ran


@dataclass(frozen=True)
class RecordFigure:
    kind: str  # development | nonconformity | observation
    sources: tuple[str, ...]  # "tracker:id"
    created_at: datetime
    closed_at: datetime | None
    action_due: datetime | None


@dataclass(frozen=True)
class Answer:
    tracker: str
    ticket_id: str
    score: int
    answered_at: datetime


@dataclass
class Report:
    start: datetime
    end: datetime
    by: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per group, then the total
    charts: dict[str, Any] = field(default_factory=dict)
    policies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Timers:
    first_response: str | None = None
    resolution: str | None = None


def build_report(facts: Sequence[Mapping[str, Any]], clocks: Iterable[ClockFigure],
                 records: Iterable[RecordFigure], answers: Iterable[Answer], *, start: datetime, end: datetime,
                 by: str | None, origin: OriginPolicy | None, timers: Timers,
                 helped: Collection[str] = frozenset()) -> Report:
    """Figures per group (and in total) for the incidents created in [start, end). `helped`:
    the tickets ("tracker:id") a knowledge-base article helped (`kb_deflected`)."""
    incidents = [row for row in facts if row["incident"] and start <= row["created_at"] < end]
    key_of = {_ref(row): row for row in facts}
    clocks_of: dict[str, list[ClockFigure]] = {}
    for clock in clocks:
        clocks_of.setdefault(f"{clock.tracker}:{clock.ticket_id}", []).append(clock)
    records = list(records)
    answers_of = {f"{a.tracker}:{a.ticket_id}": a for a in answers if start <= a.answered_at < end}
    grouper = _grouper(by)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in incidents:
        groups.setdefault(grouper(row), []).append(row)
    policies = sorted({c.policy for ticket in incidents for c in clocks_of.get(_ref(ticket), [])})
    report = Report(start, end, by, policies=policies)
    context = _Context(clocks_of, records, answers_of, key_of, origin, timers, policies, start, end, grouper,
                       frozenset(helped))
    for name in sorted(groups) if by else ():  # without grouping, the total says it all
        report.rows.append({"group": name, **context.figures(groups[name], name)})
    report.rows.append({"group": "total", **context.figures(incidents, None)})
    report.charts = context.charts(incidents)
    return report


def _ref(row: Mapping[str, Any]) -> str:
    return f"{row['tracker']}:{row['ticket_id']}"


def _grouper(by: str | None) -> Callable[[Mapping[str, Any]], str]:
    if by == "month":
        return lambda row: row["created_at"].strftime("%Y-%m")
    if by in ("team", "customer", "priority"):
        return lambda row: str(row.get(by) or "(none)")
    return lambda row: "all"


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _compliance(clocks: Sequence[ClockFigure]) -> float | None:
    """Of the decided clocks (stopped, or breached), the percentage that stopped in time."""
    decided = [c for c in clocks if c.stopped or c.breached]
    return _rate(sum(1 for c in decided if not c.breached), len(decided))


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The value below which `fraction` of the values lie (nearest rank); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class _Context:
    clocks_of: Mapping[str, list[ClockFigure]]
    records: list[RecordFigure]
    answers_of: Mapping[str, Answer]
    facts_of: Mapping[str, Mapping[str, Any]]
    origin: OriginPolicy | None
    timers: Timers
    policies: list[str]
    start: datetime
    end: datetime
    grouper: Callable[[Mapping[str, Any]], str]
    helped: frozenset[str] = frozenset()

    def figures(self, rows: list[Mapping[str, Any]], group: str | None) -> dict[str, Any]:
        total = len(rows)
        refs = {_ref(row) for row in rows}
        clocks = [c for ref in refs for c in self.clocks_of.get(ref, [])]
        figures: dict[str, Any] = {"incidents": total}
        if self.origin is not None:
            internal = sum(1 for row in rows if self.origin.is_internal(row.get("origin")))
            unclassified = sum(1 for row in rows if not self.origin.classified(row.get("origin")))
            figures.update(internal=internal, internal_rate=_rate(internal, total), unclassified=unclassified,
                           unclassified_rate=_rate(unclassified, total))
        figures["breaches"] = sum(1 for c in clocks if c.breached)
        for policy in self.policies:
            figures[f"sla_compliance.{policy}"] = _compliance([c for c in clocks if c.policy == policy])
        for name, timer in (("first_response", self.timers.first_response), ("resolution", self.timers.resolution)):
            hours = self._hours(refs, timer)
            figures[f"{name}_median_hours"] = round(statistics.median(hours), 2) if hours else None
            figures[f"{name}_p90_hours"] = round(p, 2) if (p := percentile(hours, 0.9)) is not None else None
        figures["escalations"] = sum(1 for r in self.records if r.kind == "development" and set(r.sources) & refs)
        for kind in ("nonconformity", "observation"):
            mine = [r for r in self.records if r.kind == kind and self._belongs(r, group)]
            plural = "nonconformities" if kind == "nonconformity" else "observations"
            figures[f"{plural}_opened"] = sum(1 for r in mine if self.start <= r.created_at < self.end)
            figures[f"{plural}_closed"] = sum(1 for r in mine if r.closed_at and self.start <= r.closed_at < self.end)
            figures[f"{plural}_overdue"] = sum(1 for r in mine if r.closed_at is None and r.action_due
                                               and r.action_due < self.end)
        figures.update(self._deflected(rows, refs))
        scores = [self.answers_of[ref].score for ref in refs if ref in self.answers_of]
        figures["satisfaction_answers"] = len(scores)
        figures["satisfaction_average"] = round(statistics.mean(scores), 2) if scores else None
        return figures

    def _deflected(self, rows: list[Mapping[str, Any]], refs: set[str]) -> dict[str, Any]:
        """Incidents closed with a knowledge-base article's help and never escalated, and their
        percentage of the closed incidents."""
        escalated = {s for r in self.records if r.kind == "development" for s in r.sources} & refs
        closed = [row for row in rows if row.get("closed_at") is not None]
        deflected = sum(1 for row in closed if _ref(row) in self.helped and _ref(row) not in escalated)
        return {"kb_deflected": deflected, "kb_deflected_share": _rate(deflected, len(closed))}

    def _hours(self, refs: set[str], policy: str | None) -> list[float]:
        """Business hours each ticket's clock of `policy` ran until it stopped."""
        if policy is None:
            return []
        hours = []
        for ref in refs:
            stopped = [c for c in self.clocks_of.get(ref, []) if c.policy == policy and c.stopped]
            if stopped:
                hours.append(sum((c.elapsed for c in stopped), timedelta(0)).total_seconds() / 3600)
        return hours

    def _belongs(self, record: RecordFigure, group: str | None) -> bool:
        """A record counts in the group of its first source ticket known to the report."""
        if group is None:
            return True
        for source in record.sources:
            row = self.facts_of.get(source)
            if row is not None:
                return self.grouper(row) == group
        return False

    def charts(self, incidents: list[Mapping[str, Any]]) -> dict[str, Any]:
        months: dict[str, list[Mapping[str, Any]]] = {}
        for row in incidents:
            months.setdefault(row["created_at"].strftime("%Y-%m"), []).append(row)
        trend = []
        for month in sorted(months):
            rows = months[month]
            internal = sum(1 for row in rows if self.origin and self.origin.is_internal(row.get("origin")))
            trend.append({"month": month, "incidents": len(rows), "internal_rate": _rate(internal, len(rows))})
        origin_by_team: dict[str, dict[str, int]] = {}
        for row in incidents:
            value = str(row.get("origin") or "")
            if self.origin is not None and not self.origin.classified(value):
                value = "unclassified"
            counts = origin_by_team.setdefault(str(row.get("team") or "(none)"), {})
            counts[value or "unclassified"] = counts.get(value or "unclassified", 0) + 1
        refs = {_ref(row) for row in incidents}
        clocks = [c for ref in refs for c in self.clocks_of.get(ref, [])]
        compliance: dict[str, dict[str, float | None]] = {}
        for policy in self.policies:
            mine = [c for c in clocks if c.policy == policy]
            by_priority: dict[str, float | None] = {"all": _compliance(mine)}
            for priority in sorted({c.priority for c in mine if c.stopped or c.breached}):
                by_priority[priority] = _compliance([c for c in mine if c.priority == priority])
            compliance[policy] = by_priority
        distribution = {label: 0 for label, _ in RESOLUTION_BUCKETS}
        for hours in self._hours(refs, self.timers.resolution):
            label = next(label for label, bound in RESOLUTION_BUCKETS if hours < bound)
            distribution[label] += 1
        return {"trend": trend, "origin_by_team": origin_by_team, "compliance": compliance,
                "resolution_distribution": distribution}
