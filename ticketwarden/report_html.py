"""The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
external assets, so it works offline, prints, and can be attached or published as it is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from rules.messages import DEFAULT, Messages
from ticketwarden.indicators import Report

PALETTE = ("#2f6db5", "#d9822b", "#3a9d5d", "#b8483e", "#7d5ba6", "#8c6d31", "#c2549d", "#5f7a8a")
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2228; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d6dbe0; padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eef1f4; }
figure { margin: 1.5rem 0; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: .4rem; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2228; }
.legend span { display: inline-block; margin-right: 1rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def render_html(report: Report, locale: str = "en", now: datetime | None = None,
                messages: Messages = DEFAULT, review: Any = None) -> str:
    def t(name: str, **values: Any) -> str:
        return messages.text(locale, f"report.{name}", **values)

    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    period = t("period", start=report.start.date().isoformat(), end=report.end.date().isoformat())
    if report.by:
        period += ", " + t("by", by=report.by)
    charts = report.charts
    parts = [
        "<!DOCTYPE html>", f'<html lang="{escape(locale)}">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(t('title'))}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>{escape(t('title'))}</h1>", f'<p class="meta">{escape(period)}</p>',
    ]
    if not report.rows or report.rows[-1].get("incidents", 0) == 0:
        parts.append(f'<p id="no-data">{escape(t("no_data"))}</p>')
    parts += [
        _figure("trend", t("trend"), _trend_chart(charts.get("trend", []), t("incidents"), t("internal_rate"))),
        _figure("origin-by-team", t("origin_by_team"), _stacked_chart(charts.get("origin_by_team", {}))),
        _figure("compliance", t("compliance"), _compliance_chart(charts.get("compliance", {}))),
        _figure("resolution-distribution", t("distribution"),
                _bar_chart(list(charts.get("resolution_distribution", {}).items()))),
        f"<h2>{escape(t('figures'))}</h2>", _table(report, t("figure"), t("total")),
        *(_review_section(review, locale, messages) if review is not None else []),
        f'<p class="meta">{escape(t("generated", now=moment))}</p>', "</body>", "</html>",
    ]
    return "\n".join(parts) + "\n"


def _review_section(review: Any, locale: str, messages: Messages) -> list[str]:
    """The support process review: trends and targets as tables, the causes as a Pareto chart,
    the worst tickets and the year's lessons learned."""
    def t(name: str, **values: Any) -> str:
        return messages.text(locale, f"review.{name}", **values)

    trends = _grid_html("review-trends", [t("indicator"), *review.months],
                        [[name, *[_cell(v) for v in values]] for name, values in review.trends.items()])
    targets = _grid_html("review-targets", [t("indicator"), t("target"), t("result")],
                         [[c.figure, c.wanted, t("met") if c.met else t("missed") if c.met is False else "-"]
                          for c in review.targets])
    worst = _grid_html("review-worst", [t("ticket"), t("policy"), t("over_hours")],
                       [[f"{o.tracker}:{o.ticket_id}", o.policy, _cell(o.over_hours)] for o in review.worst])
    lessons = _grid_html("review-lessons", [t("record"), t("category"), t("cause"), t("correction"),
                                            t("corrective_action"), t("result_of_review"), t("closed")],
                         [[x.key or x.kind, x.category, x.cause, x.correction, x.corrective_action, x.result, x.closed]
                          for x in review.lessons])
    return [f'<section id="review"><h2>{escape(t("title"))}</h2>', f"<h3>{escape(t('trends'))}</h3>", trends,
            f"<h3>{escape(t('targets'))}</h3>", targets if review.targets else f"<p>{escape(t('no_targets'))}</p>",
            f"<h3>{escape(t('worst'))}</h3>", worst if review.worst else f"<p>{escape(t('no_breaches'))}</p>",
            _figure("pareto", t("causes"), _pareto_chart(review.causes)),
            f"<h3>{escape(t('lessons', year=str(review.year)))}</h3>",
            lessons if review.lessons else f"<p>{escape(t('no_lessons'))}</p>", "</section>"]


def _grid_html(name: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{name}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _pareto_chart(causes: Sequence[Any]) -> str:
    """Records per cause category, most first, as bars; the cumulative share as a line."""
    width, height, left, bottom, top = 640, 240, 40, 200, 10
    step = (width - left - 20) / max(len(causes), 1)
    most = max([c.open + c.closed for c in causes] + [1])
    body, points = [], []
    for index, cause in enumerate(causes):
        count = cause.open + cause.closed
        x = left + index * step
        h = (bottom - top) * count / most
        body.append(f'<rect class="bar" data-label="{escape(cause.category)}" data-value="{count}" x="{x + 4:.1f}" '
                    f'y="{bottom - h:.1f}" width="{step - 8:.1f}" height="{h:.1f}" fill="{PALETTE[3]}">'
                    f"<title>{escape(cause.category)}: {count}</title></rect>")
        body.append(f'<text x="{x + step / 2:.1f}" y="{bottom + 14}" text-anchor="middle">{escape(cause.category[:18])}'
                    "</text>")
        points.append(f"{x + step / 2:.1f},{bottom - (bottom - top) * cause.cumulative_share / 100:.1f}")
    if points:
        body.append(f'<polyline class="cumulative" points="{" ".join(points)}" fill="none" '
                    f'stroke="{PALETTE[0]}" stroke-width="2"/>')
    return _svg(width, height + 20, "pareto", body)


def _figure(name: str, caption: str, svg: str) -> str:
    return f'<figure id="chart-{name}" data-chart="{name}"><figcaption>{escape(caption)}</figcaption>{svg}</figure>'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _trend_chart(trend: Sequence[Mapping[str, Any]], bars_label: str, line_label: str) -> str:
    """Bars: incidents per month; line: internal-origin rate (0-100%, right axis)."""
    width, height, left, bottom, top = 640, 240, 40, 30, 15
    plot_h = height - bottom - top
    most = max([int(p["incidents"]) for p in trend] + [1])
    step = (width - left * 2) / max(len(trend), 1)
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="#888"/>']
    points = []
    for index, point in enumerate(trend):
        x = left + index * step
        bar = plot_h * int(point["incidents"]) / most
        bar_w = min(step * 0.7, 70.0)
        body.append(f'<rect class="bar" data-month="{escape(str(point["month"]))}" data-value="{point["incidents"]}" '
                    f'x="{x + (step - bar_w) / 2:.1f}" y="{height - bottom - bar:.1f}" width="{bar_w:.1f}" '
                    f'height="{bar:.1f}" fill="{PALETTE[0]}"><title>{point["month"]}: {point["incidents"]}</title>'
                    f"</rect>")
        body.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
                    f'{escape(str(point["month"]))}</text>')
        body.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom - bar - 3:.1f}" text-anchor="middle">'
                    f'{point["incidents"]}</text>')
        if point.get("internal_rate") is not None:
            y = height - bottom - plot_h * float(point["internal_rate"]) / 100
            points.append(f"{x + step / 2:.1f},{y:.1f}")
            body.append(f'<text class="rate" x="{x + step / 2 + 8:.1f}" y="{y - 6:.1f}" fill="{PALETTE[3]}">'
                        f'{float(point["internal_rate"]):g}%</text>')
    if points:
        body.append(f'<polyline class="rate" points="{" ".join(points)}" fill="none" stroke="{PALETTE[3]}" '
                    f'stroke-width="2"/>')
        body += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{PALETTE[3]}"/>' for p in points]
    legend = (f'<div class="legend"><span><i style="background:{PALETTE[0]}"></i>{escape(bars_label)}</span>'
              f'<span><i style="background:{PALETTE[3]}"></i>{escape(line_label)}</span></div>')
    return _svg(width, height, f"{bars_label} / {line_label}", body) + legend


def _stacked_chart(split: Mapping[str, Mapping[str, int]]) -> str:
    """One horizontal bar per team, split by failure origin (counts)."""
    values = sorted({origin for counts in split.values() for origin in counts})
    colour = {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(values)}
    row_h, left, width = 26, 110, 640
    height = max(len(split), 1) * row_h + 10
    most = max([sum(counts.values()) for counts in split.values()] + [1])
    body = []
    for index, (team, counts) in enumerate(sorted(split.items())):
        y = 5 + index * row_h
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(team)}</text>')
        x = float(left)
        for value in values:
            count = counts.get(value, 0)
            if not count:
                continue
            w = (width - left - 20) * count / most
            body.append(f'<rect class="segment" data-team="{escape(team)}" data-origin="{escape(value)}" '
                        f'data-value="{count}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 8}" '
                        f'fill="{colour[value]}"><title>{escape(team)}, {escape(value)}: {count}</title></rect>')
            x += w
        body.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{sum(counts.values())}</text>')
    legend = '<div class="legend">' + "".join(
        f'<span><i style="background:{colour[v]}"></i>{escape(v)}</span>' for v in values) + "</div>"
    return _svg(width, height, "origin per team", body) + legend


def _compliance_chart(compliance: Mapping[str, Mapping[str, float | None]]) -> str:
    """One bar per policy and priority: the percentage of decided clocks met on time."""
    items = [(f"{policy} · {priority}", pct) for policy, by in sorted(compliance.items())
             for priority, pct in by.items()]
    return _bar_chart(items, percent=True)


def _bar_chart(items: Sequence[tuple[str, Any]], percent: bool = False) -> str:
    row_h, left, width = 24, 170, 640
    height = max(len(items), 1) * row_h + 10
    most = 100.0 if percent else max([float(v or 0) for _, v in items] + [1.0])
    body = []
    for index, (label, value) in enumerate(items):
        y = 5 + index * row_h
        w = (width - left - 60) * float(value or 0) / most
        shown = "-" if value is None else (f"{value:g}%" if percent else f"{value:g}")
        body.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        body.append(f'<rect class="bar" data-label="{escape(label)}" data-value="{"" if value is None else value}" '
                    f'x="{left}" y="{y}" width="{w:.1f}" height="{row_h - 8}" fill="{PALETTE[2]}">'
                    f"<title>{escape(label)}: {shown}</title></rect>")
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 14}">{shown}</text>')
    return _svg(width, height, "bars", body)


def _table(report: Report, figure: str, total: str) -> str:
    from ticketwarden.reports import columns

    names = [name for name in columns(report) if name != "group"]
    head = "".join(f"<th>{escape(total if row['group'] == 'total' else str(row['group']))}</th>"
                   for row in report.rows)
    lines = [f'<table id="figures"><thead><tr><th>{escape(figure)}</th>{head}</tr></thead><tbody>']
    for name in names:
        cells = "".join(f'<td data-figure="{escape(name)}">{_cell(row.get(name))}</td>' for row in report.rows)
        lines.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return escape(f"{value:g}" if isinstance(value, float) else str(value))
