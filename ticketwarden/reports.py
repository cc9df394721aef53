"""`ticketwarden report` and `GET /reports`: the indicators for a period, read from the store
and written as a table, CSV, JSON or a self-contained HTML page with charts."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime, timedelta
from typing import Any

from rules.messages import DEFAULT, Messages
from rules.rulebook import Rulebook
from rules.sla import BREACHED
from ticketwarden.indicators import Answer, ClockFigure, RecordFigure, Report, Timers, build_report
from ticketwarden.sla import SlaBook
from ticketwarden.store import Store

FORMATS = ("table", "csv", "json", "html")
# What GET /reports serves, with its content type.
PAGE_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/csv; charset=utf-8"}


def gather(store: Store, rulebook: Rulebook, start: datetime, end: datetime, by: str | None,
           now: datetime, book: SlaBook | None = None) -> Report:
    """The report for incidents created in [start, end), as the store knows them at `now`.
    `book`: the rulebook's calendars when the caller already built them (a review reads a
    year of months with one)."""
    facts = store.facts_between(start, end)
    refs = {(row["tracker"], row["ticket_id"]) for row in facts}
    records = store.all_records()
    sources = {(r.tracker, source) for r in records for source in r.sources}
    extra = store.facts_for(sources - refs)  # records whose tickets were created before the period
    priorities = {(row["tracker"], row["ticket_id"]): row["priority"] for row in facts}
    if book is None and rulebook.sla:
        book = SlaBook(rulebook)
    clocks = []
    for row in store.clocks_of(refs):
        clock = row.clock
        if book is None or clock.policy not in rulebook.sla:
            continue
        status = book.status(clock, now)
        clocks.append(ClockFigure(clock.tracker, clock.ticket_id, clock.policy,
                                  priorities.get((clock.tracker, clock.ticket_id), ""), clock.stopped,
                                  status.breached_at is not None or clock.has(BREACHED), status.elapsed))
    figures = [RecordFigure(r.kind, tuple(_sources(r.tracker, r.sources)), r.created_at, r.closed_at, r.action_due)
               for r in records]
    answers = [Answer(row["tracker"], row["ticket_id"], int(row["score"]), row["answered_at"])
               for row in store.survey_answers(start, end)]
    timers = Timers(rulebook.indicators.first_response, rulebook.indicators.resolution)
    helped = {f"{tracker}:{ticket_id}" for tracker, ticket_id in store.helped_by_articles()}
    return redacted(rulebook, build_report([*facts, *extra], clocks, figures, answers, start=start, end=end, by=by,
                        origin=rulebook.origin, timers=timers, helped=helped))


def redacted(rulebook: Rulebook, report: Report) -> Report:
    """The report with the rulebook's redaction applied to its groups and series: a group is a
    team or customer name taken from tickets, and a report is read outside them."""
    return dataclasses.replace(report, rows=rulebook.redaction.redact_value(report.rows),
                               charts=rulebook.redaction.redact_value(report.charts))


def _sources(tracker: str, sources: tuple[str, ...]) -> list[str]:
    return [f"{tracker}:{source}" for source in sources]


def columns(report: Report) -> list[str]:
    """The figures' names, in the order tables and CSV show them."""
    names: list[str] = []
    for row in report.rows:
        names += [name for name in row if name not in names]
    return names


def render(report: Report, fmt: str, locale: str = "en", messages: Messages = DEFAULT) -> str:
    if fmt == "json":
        return json.dumps({"from": report.start.isoformat(), "to": report.end.isoformat(), "by": report.by,
                           "rows": report.rows, "charts": report.charts}, indent=2, default=str) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns(report), lineterminator="\n")
        writer.writeheader()
        for row in report.rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        return out.getvalue()
    if fmt == "html":
        from ticketwarden.report_html import render_html

        return render_html(report, locale, messages=messages)
    if fmt in ("textile", "jira"):
        return _markup(report, fmt, locale, messages)
    return _table(report)


def _markup(report: Report, fmt: str, locale: str, messages: Messages) -> str:
    """The figures as a tracker's own table markup: Redmine's Textile or Jira's wiki markup."""
    def t(name: str, **values: str) -> str:
        return messages.text(locale, f"report.{name}", **values)

    groups = [t("total") if row["group"] == "total" else str(row["group"]) for row in report.rows]
    period = t("period", start=report.start.date().isoformat(), end=report.end.date().isoformat())
    if report.by:
        period += ", " + t("by", by=report.by)
    names = [name for name in columns(report) if name != "group"]
    if fmt == "textile":
        lines = [f"h2. {t('title')}", "", period, "", "|_. " + " |_. ".join([t("figure"), *groups]) + " |"]
        lines += ["| " + " | ".join([name, *[cell_text(row.get(name)) for row in report.rows]]) + " |"
                  for name in names]
    else:
        lines = [f"h2. {t('title')}", "", period, "", "||" + "||".join([t("figure"), *groups]) + "||"]
        lines += ["|" + "|".join([name, *[cell_text(row.get(name)) for row in report.rows]]) + "|" for name in names]
    return "\n".join(lines) + "\n"


def _table(report: Report) -> str:
    """Groups across, figures down: readable in a terminal whatever the number of figures."""
    names = [name for name in columns(report) if name != "group"]
    header = ["figure", *[str(row["group"]) for row in report.rows]]
    lines = [header] + [[name, *[cell_text(row.get(name)) for row in report.rows]] for name in names]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    title = f"incidents created {report.start.date().isoformat()} to {report.end.date().isoformat()}" + \
        (f", by {report.by}" if report.by else "")
    text = [title, ""]
    for index, line in enumerate(lines):
        text.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                              for i, cell in enumerate(line)).rstrip())
        if index == 0:
            text.append("  ".join("-" * width for width in widths))
    return "\n".join(text) + "\n"


def cell_text(value: Any) -> str:
    """A figure as text tables show it: `-` for none, floats without trailing zeros."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def period(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The report's [start, end): by default the last 30 days."""
    end = until or now
    return since or end - timedelta(days=30), end
