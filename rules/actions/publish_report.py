"""`publish_report`: put the indicators into the tracker, on a schedule (monthly, say).

Redmine: a wiki page of a project (the figures as a table, the HTML report with its charts
attached), written again when the same period is published again. Jira: an issue in a project
(the figures in its description), created once per period and brought up to date afterwards.
The period is fixed when the schedule fires, so a retry publishes the same figures' period.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rules.actions import ActionSpec, CompileContext, PlanError, Scope, compile_options
from rules.context import Where
from rules.durations import DurationError, parse_duration
from rules.schema import MEASURE_WINDOWS, REPORT_GROUPS, TRACKER_KINDS, WINDOW_PATTERN, Option
from rules.templates import render

OPTIONS = {
    "tracker": Option("enum", required=True, choices=TRACKER_KINDS, doc="where to publish"),
    "project": Option("text", required=True, doc="project (Redmine identifier, Jira key)"),
    "window": Option("text", default="previous_month", doc="the period: previous_month, this_month, or a "
                                                           "duration back from the run (30d)",
                     schema={"pattern": WINDOW_PATTERN}),
    "by": Option("enum", choices=REPORT_GROUPS, doc="one column per group"),
    "title": Option("template", default="Quality indicators {{ window.month }}",
                    doc="wiki page title (Redmine) or issue summary (Jira); the default is in the rulebook's "
                        "`locale` (message `report.title`)"),
    "issue_type": Option("text", default="Task", doc="Jira: the type of the report's issue"),
    "review": Option("int", default=0, doc="months of the support process review to add (trends, targets, worst "
                     "tickets, causes, lessons learned, a decisions page); 0: none", example="12",
                     schema={"minimum": 0, "maximum": 36}),
}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    if isinstance(value, dict) and "title" not in value:
        value = {**value, "title": book.default_text("report.title") + " {{ window.month }}"}
    # the title sees `window` (the period), as a measured rule's templates do
    compiled = compile_options(OPTIONS, value, where, dataclasses.replace(book, measured=True))
    if compiled is None:
        return None
    if not 0 <= compiled["review"] <= 36:
        where.child(value, "review").error(f"review {compiled['review']}: months from 0 (none) to 36")
        return None
    spec = str(compiled["window"])
    if spec not in MEASURE_WINDOWS:
        try:
            parse_duration(spec)
        except DurationError as exc:
            where.child(value, "window").error(f"{exc}; or one of: {', '.join(MEASURE_WINDOWS)}")
            return None
    return compiled


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    from rules.measures import window  # the action registry loads before the rulebook module
    from rules.rulebook import Measure

    spec = str(compiled["window"])
    measure = Measure(None, spec, "all") if spec in MEASURE_WINDOWS else Measure(parse_duration(spec), None, "all")
    start, end, month = window(measure, scope.event.occurred_at)
    context = {**scope.template_context, "window": {"start": start, "end": end, "month": month, "label": spec}}
    title = " ".join(render(compiled["title"], context).split())
    if not title:
        raise PlanError("publish_report: the title renders empty")
    return {"tracker": compiled["tracker"], "project": compiled["project"], "title": title[:255],
            "from": start.isoformat(), "to": end.isoformat(), "by": compiled.get("by"),
            "issue_type": compiled["issue_type"], "locale": scope.locale, "review": compiled["review"]}


SPEC = ActionSpec(
    name="publish_report", summary="Publish the indicators into the tracker (a Redmine wiki page, a Jira issue).",
    options=OPTIONS, compile=compile_action, plan=plan, needs_ticket=False, leaves_ticket=True,
    example='- publish_report: {tracker: redmine, project: quality, window: previous_month, by: team}',
)
