"""The indicators from hand-made rows: every figure checked against a count made by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.rulebook import OriginPolicy
from rules.schema import DEFAULT_ORIGINS
from ticketwarden.indicators import Answer, ClockFigure, RecordFigure, Timers, build_report, percentile
from ticketwarden.reports import render

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
ORIGIN = OriginPolicy("origin", DEFAULT_ORIGINS)


def fact(n: int, team: str, origin: str | None, day: str, priority: str = "Normal", incident: bool = True) -> dict:
    return {"tracker": "redmine", "ticket_id": str(n), "key": f"#{n}", "url": f"u/{n}", "team": team,
            "customer": "ACME", "priority": priority, "origin": origin, "incident": incident,
            "created_at": datetime.fromisoformat(day).replace(tzinfo=UTC), "closed_at": None, "breaches": 0}


FACTS = [
    fact(1, "network", "internal", "2026-03-02", "High"),
    fact(2, "network", "customer", "2026-03-05"),
    fact(3, "network", "unknown", "2026-04-01"),
    fact(4, "support", None, "2026-04-02", "High"),
    fact(5, "support", "internal", "2026-04-03"),
    fact(6, "support", "customer", "2026-02-20"),             # before the period
    fact(7, "support", "customer", "2026-03-10", incident=False),  # not an incident
]
H = timedelta(hours=1)
CLOCKS = [
    ClockFigure("redmine", "1", "resolution", "High", stopped=True, breached=False, elapsed=2 * H),
    ClockFigure("redmine", "2", "resolution", "Normal", stopped=True, breached=True, elapsed=30 * H),
    ClockFigure("redmine", "3", "resolution", "Normal", stopped=False, breached=False, elapsed=H),  # still open
    ClockFigure("redmine", "4", "resolution", "High", stopped=True, breached=False, elapsed=6 * H),
    ClockFigure("redmine", "5", "resolution", "Normal", stopped=True, breached=False, elapsed=10 * H),
    ClockFigure("redmine", "1", "first-response", "High", stopped=True, breached=False, elapsed=H / 2),
    ClockFigure("redmine", "2", "first-response", "Normal", stopped=True, breached=False, elapsed=H),
]
RECORDS = [
    RecordFigure("development", ("redmine:1",), datetime(2026, 3, 3, tzinfo=UTC), None, None),
    RecordFigure("nonconformity", ("redmine:2",), datetime(2026, 3, 20, tzinfo=UTC), None,
                 datetime(2026, 4, 19, tzinfo=UTC)),                                   # overdue by the end
    RecordFigure("nonconformity", ("redmine:6",), datetime(2026, 2, 25, tzinfo=UTC),
                 datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 3, 27, tzinfo=UTC)),  # closed in the period
    RecordFigure("observation", ("redmine:4", "redmine:5"), datetime(2026, 4, 10, tzinfo=UTC), None,
                 datetime(2026, 6, 1, tzinfo=UTC)),
]
ANSWERS = [Answer("redmine", "1", 5, datetime(2026, 3, 9, tzinfo=UTC)),
           Answer("redmine", "2", 2, datetime(2026, 3, 9, tzinfo=UTC))]


def report(by=None):
    return build_report(FACTS, CLOCKS, RECORDS, ANSWERS, start=START, end=END, by=by, origin=ORIGIN,
                        timers=Timers("first-response", "resolution"))


def test_the_totals():
    total = report().rows[-1]
    assert total["group"] == "total" and total["incidents"] == 5
    assert (total["internal"], total["internal_rate"]) == (2, 40.0)
    assert (total["unclassified"], total["unclassified_rate"]) == (2, 40.0)  # unknown and empty
    assert total["breaches"] == 1
    assert total["sla_compliance.resolution"] == 75.0    # 3 of the 4 decided clocks on time
    assert total["sla_compliance.first-response"] == 100.0
    assert total["resolution_median_hours"] == 8.0       # 2, 6, 10, 30
    assert total["resolution_p90_hours"] == 30.0
    assert total["first_response_median_hours"] == 0.75
    assert total["escalations"] == 1
    assert (total["nonconformities_opened"], total["nonconformities_closed"], total["nonconformities_overdue"]) \
        == (1, 1, 1)
    assert (total["observations_opened"], total["observations_overdue"]) == (1, 0)
    assert (total["satisfaction_answers"], total["satisfaction_average"]) == (2, 3.5)


def test_per_team_and_per_month():
    network, support, total = report("team").rows
    assert total["group"] == "total" and total["incidents"] == 5
    assert (network["group"], network["incidents"], network["internal_rate"]) == ("network", 3, 33.3)
    assert (support["group"], support["incidents"], support["internal_rate"]) == ("support", 2, 50.0)
    assert network["nonconformities_opened"] == 1 and support["observations_opened"] == 1
    assert support["nonconformities_closed"] == 1  # its first source (#6) is support's
    march, april, _ = report("month").rows
    assert (march["group"], march["incidents"], april["group"], april["incidents"]) == ("2026-03", 2, "2026-04", 3)


def test_the_chart_series():
    charts = report().charts
    assert charts["trend"] == [{"month": "2026-03", "incidents": 2, "internal_rate": 50.0},
                               {"month": "2026-04", "incidents": 3, "internal_rate": 33.3}]
    assert charts["origin_by_team"] == {"network": {"internal": 1, "customer": 1, "unclassified": 1},
                                        "support": {"unclassified": 1, "internal": 1}}
    assert charts["compliance"]["resolution"] == {"all": 75.0, "High": 100.0, "Normal": 50.0}
    assert charts["resolution_distribution"] == {"< 1h": 0, "1-4h": 1, "4-8h": 1, "8-24h": 1, "1-3d": 1, "> 3d": 0}


def test_percentiles_by_nearest_rank():
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([float(n) for n in range(1, 11)], 0.5) == 5.0


def test_formats():
    result = report("team")
    table = render(result, "table").splitlines()
    assert table[0] == "incidents created 2026-03-01 to 2026-05-01, by team"
    assert table[2].split() == ["figure", "network", "support", "total"]
    assert table[4].split() == ["incidents", "3", "2", "5"]
    csv = render(result, "csv").splitlines()
    assert csv[0].startswith("group,incidents,internal,internal_rate,") and csv[-1].startswith("total,5,2,40.0,")
    html = render(result, "html", "es")
    assert '<html lang="es">' in html and "Indicadores de calidad" in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
