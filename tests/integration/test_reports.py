"""Reports end to end: incidents go through the fake Jira and the real worker (origins, SLA
clocks, a nonconformity), then `ticketwarden report` and `GET /reports` give the figures, and
the HTML page is rendered in headless Chromium with its charts checked and a screenshot kept.

The story happens ten to four hours ago (the clock shared by the fake and the service starts in
the past), so a report made now sees all of it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from click.testing import CliRunner

from tests.browser import parse, print_to_pdf, render
from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.helpers import MovableClock
from tests.integration.jira_service import serve, work
from ticketwarden.cli import main
from ticketwarden.service import Application

SECRET = "reports-secret"
RULES = """
version: 1
fields:
  origin: {jira: customfield_10050}
  team: {jira: customfield_10051}
origin:
  values: {internal: ours, customer: theirs, third_party: a supplier's, infrastructure: hosting, unknown: not yet}
indicators:
  incidents: [project = SUP, tracker = Incident]
staff: {groups: [support-staff]}
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  first-response:
    applies: [project = SUP, tracker = Incident]
    calendar: always
    stop: [actor_role = staff, comment_visibility = public]
    targets: [{target: 1h}]
  resolution:
    applies: [project = SUP, tracker = Incident]
    calendar: always
    stop: [status = Done]
    targets: [{target: 4h}]
rules:
  - name: internal breach
    on: [sla.breached]
    if: [sla.policy = resolution, origin = internal]
    then:
      - nonconformity: {project: QA, cause: "breach-{{ ticket.key }}", subject: "Breach on {{ ticket.key }}"}
"""
TEAM = "customfield_10051"


@pytest.fixture
def clock() -> MovableClock:
    clock = MovableClock()
    clock.offset = -timedelta(hours=10)
    return clock


@pytest.fixture
def fake(clock: MovableClock) -> Iterator[FakeJira]:
    yield from checked_fake_jira("Cloud", clock=clock)


@pytest.fixture
def service(fake: FakeJira, clock: MovableClock, tmp_path, database_url) -> Iterator[Application]:
    yield from serve(fake, RULES, tmp_path, database_url, SECRET, clock, reports_token="read-only-token",
                     data_dir=tmp_path / "data")


def story(fake: FakeJira, service: Application, clock: MovableClock) -> list[str]:
    """Five incidents: two answered and resolved in time, three late; one of those internal."""
    keys = []
    for team, origin in (("network", "internal"), ("network", "customer"), ("network", "unknown"),
                         ("platform", "customer"), ("platform", "internal")):
        keys.append(fake.create_issue("SUP", f"{team} {origin}", issuetype="Incident", reporter="customer",
                                      emit=True, **{TEAM: team, "Failure origin": origin}).key)
    work(service)
    clock.offset += timedelta(minutes=30)
    for key in (keys[0], keys[3]):
        fake.comment(key, "Looking into it.", author="agent")
    work(service)
    clock.offset += timedelta(minutes=90)
    fake.transition(keys[0], "Done", author="agent", resolution="Done")  # resolved in 2h
    clock.offset += timedelta(hours=1)
    fake.transition(keys[3], "Done", author="agent", resolution="Done")  # in 3h
    work(service)
    clock.offset += timedelta(hours=2)                                    # 5h: the others are late
    service.sweep_sla()
    work(service)
    clock.offset += timedelta(hours=1)
    fake.transition(keys[1], "Done", author="agent", resolution="Done")  # in 6h, breached
    work(service)
    return keys


def test_figures_by_cli_and_http_and_the_page_in_chromium(fake, service, clock, chromium):
    story(fake, service, clock)
    url, rules = service.settings.database_url, service.settings.rules[0]
    result = CliRunner().invoke(main, ["report", "--by", "team", "--format", "json", "--rules", rules,
                                       "--database-url", url])
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row for row in json.loads(result.output)["rows"]}
    total = rows["total"]
    assert (total["incidents"], total["internal"], total["internal_rate"]) == (5, 2, 40.0)
    assert (total["unclassified"], total["unclassified_rate"]) == (1, 20.0)
    assert total["sla_compliance.resolution"] == 40.0 and total["sla_compliance.first-response"] == 40.0
    assert total["breaches"] == 6  # first response and resolution of the three late ones
    assert total["first_response_median_hours"] == pytest.approx(0.5, abs=0.02)
    assert total["resolution_median_hours"] == pytest.approx(3.0, abs=0.02)
    assert total["resolution_p90_hours"] == pytest.approx(6.0, abs=0.02)
    assert (total["nonconformities_opened"], rows["platform"]["nonconformities_opened"],
            rows["network"]["nonconformities_opened"]) == (1, 1, 0)
    assert (rows["network"]["incidents"], rows["network"]["internal_rate"]) == (3, 33.3)
    assert (rows["platform"]["incidents"], rows["platform"]["internal_rate"]) == (2, 50.0)

    table = CliRunner().invoke(main, ["report", "--rules", rules, "--database-url", url])
    assert table.exit_code == 0 and table.output.splitlines()[4].split() == ["incidents", "5"]
    csv = CliRunner().invoke(main, ["report", "--by", "month", "--format", "csv", "--rules", rules,
                                    "--database-url", url])
    assert csv.output.splitlines()[0].startswith("group,incidents,internal,internal_rate")

    # The page over HTTP: a token is needed; a browser logs in with HTTP Basic.
    client = service.app.test_client()
    anonymous = client.get("/reports")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/reports", headers={"Authorization": "Bearer wrong"}).status_code == 403
    basic = "Basic " + base64.b64encode(b"quality:read-only-token").decode()
    assert client.get("/reports?from=yesterday", headers={"Authorization": basic}).status_code == 400
    as_json = client.get("/reports?by=team&format=json", headers={"Authorization": "Bearer read-only-token"})
    assert as_json.status_code == 200 and as_json.get_json()["rows"][-1]["incidents"] == 5
    page = client.get("/reports?by=team", headers={"Authorization": basic})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")

    path = service.settings.data_dir
    saved = path / "report.html"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_bytes(page.data)
    dom = parse(render(chromium, saved.as_uri(), screenshot="report.png"))
    charts = {e.attrs["data-chart"] for e in dom.find("figure") if "data-chart" in e.attrs}
    assert charts == {"trend", "origin-by-team", "compliance", "resolution-distribution"}
    assert [int(e.attrs["data-value"]) for e in dom.inside("chart-trend", "rect")] == [5]
    segments = {(e.attrs["data-team"], e.attrs["data-origin"]): int(e.attrs["data-value"])
                for e in dom.inside("chart-origin-by-team", "rect")}
    assert segments == {("network", "internal"): 1, ("network", "customer"): 1, ("network", "unclassified"): 1,
                        ("platform", "customer"): 1, ("platform", "internal"): 1}
    bars = {e.attrs["data-label"]: e.attrs["data-value"] for e in dom.inside("chart-compliance", "rect")}
    assert bars["resolution · all"] == "40.0" and bars["first-response · all"] == "40.0"
    resolved = {e.attrs["data-label"]: int(e.attrs["data-value"]) for e in dom.inside("chart-resolution-distribution",
                                                                                      "rect")}
    assert resolved == {"< 1h": 0, "1-4h": 2, "4-8h": 1, "8-24h": 0, "1-3d": 0, "> 3d": 0}
    cells = [e.text for e in dom.find("td", data_figure="incidents")]
    assert cells == ["3", "2", "5"]
    assert not dom.find("script")
    printed = print_to_pdf(chromium, saved.as_uri(), "report.pdf").read_bytes()
    assert printed.startswith(b"%PDF") and printed.count(b"/Type /Page") - printed.count(b"/Type /Pages") >= 2


def test_the_live_page_logs_in_with_basic_credentials_in_chromium(fake, service, clock, chromium):
    """The page as a browser gets it from the running service (Basic credentials in the URL)."""
    from threading import Thread

    from waitress.server import create_server

    story(fake, service, clock)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=2)
    Thread(target=server.run, daemon=True).start()
    try:
        port = server.effective_port
        assert requests.get(f"http://127.0.0.1:{port}/reports", timeout=10).status_code == 401
        dom = parse(render(chromium, f"http://reader:read-only-token@127.0.0.1:{port}/reports?by=month"))
        assert {e.attrs["data-chart"] for e in dom.find("figure")} >= {"trend", "compliance"}
        assert [e.text for e in dom.find("td", data_figure="incidents")][-1] == "5"
    finally:
        server.close()
