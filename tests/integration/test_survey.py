"""The satisfaction survey end to end: a closed incident in the fake Jira gets a public note with
a personal link; a person opens it in headless Chromium (Selenium + Debian's ChromeDriver),
rates and comments; the answer comes back to the ticket, fires `survey.answered` (a low score
opens an observation) and shows in the report. Used, expired and made-up links get friendly
pages, in the survey's language."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from selenium.webdriver.common.by import By
from waitress.server import create_server

from tests.browser import ARTIFACTS
from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.helpers import MovableClock
from tests.integration.jira_service import serve, work
from ticketwarden.service import Application

SECRET = "survey-secret"
RULES = """
version: 1
fields:
  satisfaction: {jira: customfield_10059}
rules:
  - name: ask for feedback
    on: [ticket.closed]
    if: [project = SUP]
    then:
      - survey: {expires: 14d, field: satisfaction, language: "{{ 'es' if 'es' in ticket.labels else 'en' }}"}
  - name: low score
    on: [survey.answered]
    if: [survey.score <= 2]
    then:
      - nonconformity:
          kind: observation
          project: QA
          cause: "low-score-{{ ticket.key }}"
          subject: "Customer rated {{ ticket.key }} {{ survey.score }}/5"
          description: "{{ survey.comment }}"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def fake(clock: MovableClock) -> Iterator[FakeJira]:
    yield from checked_fake_jira("Cloud", clock=clock)


@pytest.fixture
def site(fake: FakeJira, clock: MovableClock, tmp_path, database_url) -> Iterator[tuple[Application, str]]:
    """The service, also serving its pages on a port of its own (the survey links point there)."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    for application in serve(fake, RULES, tmp_path, database_url, SECRET, clock, public_url=public):
        server = create_server(application.app, host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        yield application, public
        server.close()


def notice(browser) -> str:
    """The text of the page's notice, once the page that has one has loaded."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    found = WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "notice")))
    return str(found.text)


def close_and_get_link(fake: FakeJira, application: Application, subject: str, **fields) -> tuple[str, str]:
    issue = fake.create_issue("SUP", subject, issuetype="Incident", reporter="customer", emit=True, **fields)
    work(application)
    fake.transition(issue.key, "Done", author="agent", resolution="Done")
    work(application)
    [note] = [c for c in fake.issue(issue.key).comments if c.author is fake.api_user]
    assert not note.internal  # the customer sees it
    link = re.search(r"(http://127\.0\.0\.1:\d+/survey/[A-Za-z0-9_-]+)", note.text)
    assert link, note.text
    return issue.key, link.group(1)


def test_a_customer_rates_in_the_browser_and_the_answer_comes_back(fake, site, browser):
    application, _ = site
    key, link = close_and_get_link(fake, application, "Mail stuck in queue")
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.TAG_NAME, "h1").text == "How did we do?"
    assert key in browser.find_element(By.TAG_NAME, "main").text
    radios = browser.find_elements(By.CSS_SELECTOR, "fieldset input[type=radio][name=score]")
    assert sorted(r.get_attribute("value") for r in radios) == ["1", "2", "3", "4", "5"]
    assert browser.find_element(By.CSS_SELECTOR, "fieldset legend").text == "Your rating"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=comment]").text.startswith("Anything to add")
    browser.find_element(By.XPATH, "//label[input[@value='2']]").click()
    browser.find_element(By.ID, "comment").send_keys("It took three days to get an answer.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "survey.png"))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert notice(browser) == "Thank you! Your answer was recorded."

    work(application)
    issue = fake.issue_json(key)
    assert issue["fields"]["customfield_10059"] == 2
    notes = [c for c in fake.issue(key).comments if c.author is fake.api_user]
    assert notes[-1].internal and notes[-1].text == \
        "Satisfaction survey answered: 2/5.\n\n> It took three days to get an answer."
    [observation] = [i for i in fake.state.issues.values() if i.project.key == "QA"]
    assert observation.summary == f"Customer rated {key} 2/5"

    # The link works once: the browser, and a second post, get a friendly page.
    browser.get(link)
    assert notice(browser) == "This survey was already answered. Thank you!"
    again = requests.post(link, data={"score": "5"}, timeout=10)
    assert again.status_code == 409 and "already answered" in again.text
    work(application)
    assert len([i for i in fake.state.issues.values() if i.project.key == "QA"]) == 1

    report = application.report(None, None, None, "json")[1]
    assert '"satisfaction_answers": 1' in report and '"satisfaction_average": 2' in report


def test_links_that_do_not_work_get_a_friendly_page(fake, site, browser, clock):
    application, public = site
    for made_up in ("x", "A" * 43, "a/b%2Fc", "%00"):
        response = requests.get(f"{public}/survey/{made_up}", timeout=10)
        assert response.status_code == 404 and "not valid or has expired" in response.text
        assert "Traceback" not in response.text
    _, link = close_and_get_link(fake, application, "Printer offline")
    missing = requests.post(link, data={"comment": "no score"}, timeout=10)
    assert missing.status_code == 400 and "choose a rating from 1 to 5" in missing.text
    assert "no score" in missing.text  # what they wrote is kept
    clock.offset = timedelta(days=15)
    browser.get(link)
    assert notice(browser).startswith("This link is not valid or has expired.")
    assert requests.post(link, data={"score": "4"}, timeout=10).status_code == 410


def test_the_survey_speaks_the_ticket_language(fake, site, browser):
    application, _ = site
    key, link = close_and_get_link(fake, application, "Factura duplicada", labels=["es"])
    note = next(c for c in fake.issue(key).comments if c.author is fake.api_user)
    assert note.text.startswith("¿Cómo lo hicimos?")
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    assert browser.find_element(By.CSS_SELECTOR, "fieldset legend").text == "Su calificación"
    browser.find_element(By.XPATH, "//label[input[@value='5']]").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert notice(browser) == "¡Gracias! Su respuesta fue registrada."
    work(application)
    assert fake.issue_json(key)["fields"]["customfield_10059"] == 5
    assert not [i for i in fake.state.issues.values() if i.project.key == "QA"]  # 5 is not a low score


@pytest.mark.redmine
def test_the_survey_on_redmine(tmp_path, database_url, redmine_env):
    """The same journey on the sandbox Redmine: the public note, the answer in the Satisfaction
    field with a private note."""
    from tests.integration.redmine_service import serve as serve_redmine
    from tests.integration.redmine_service import settle, start_incident
    from tests.integration.sandbox import SandboxRedmine

    rules = RULES.replace("jira: customfield_10059", 'redmine: "Satisfaction"') \
        .replace("project = SUP", "project = support")
    for application, _ in serve_redmine(rules.split("  - name: low score")[0], tmp_path, database_url, redmine_env):
        redmine = SandboxRedmine(redmine_env)
        created = start_incident(application, redmine, "Survey on Redmine")
        redmine.update(created["id"], status="Closed", notes="Done.")
        settle(application)
        issue = redmine.issue(created["id"])
        [invitation] = redmine.notes_by(issue, "ticketwarden service")
        assert not invitation["private_notes"] and invitation["notes"].startswith("How did we do?")
        path = re.search(r"/survey/[A-Za-z0-9_-]+", invitation["notes"])
        assert path
        answered = application.app.test_client().post(path.group(0), data={"score": "4", "comment": "Fine."})
        assert answered.status_code == 200 and "Thank you" in answered.get_data(as_text=True)
        settle(application)
        issue = redmine.issue(created["id"])
        assert redmine.custom_field(issue, "Satisfaction") == "4"
        notes = redmine.notes_by(issue, "ticketwarden service")
        assert notes[-1]["private_notes"] and notes[-1]["notes"] == "Satisfaction survey answered: 4/5.\n\n> Fine."


REFUSED_CLOSE_RULES = """
version: 1
fields:
  satisfaction: {redmine: "Satisfaction"}
  origin: {redmine: "Failure origin"}
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    applies: [project = support, tracker = Incident]
    calendar: always
    stop: [status in (Resolved, Closed)]
    targets: [{target: 8h}]
rules:
  - name: ask for feedback       # before the refusal on purpose: the order of rules must not matter
    on: [ticket.closed]
    if: [project = support]
    then: [{survey: {expires: 14d, field: satisfaction}}]
  - name: no closing without origin
    on: [ticket.closed]
    if: [project = support, any: [origin is empty, origin = unknown]]
    then: [{transition: {status: Resolved, comment: "Classify its failure origin first.", private: true}}]
"""


@pytest.mark.redmine
def test_a_refused_close_asks_nothing_and_a_new_survey_withdraws_the_old(tmp_path, database_url, redmine_env):
    """A close a rule sends back sends no survey and is no reopen (one clock cycle); each close
    that stands sends one, and a ticket has one open survey at most."""
    from tests.integration.redmine_service import serve as serve_redmine
    from tests.integration.redmine_service import settle, start_incident
    from tests.integration.sandbox import SandboxRedmine

    for application, _ in serve_redmine(REFUSED_CLOSE_RULES, tmp_path, database_url, redmine_env):
        redmine = SandboxRedmine(redmine_env)
        created = start_incident(application, redmine, "Closed too early (survey)")

        def invitations() -> list[str]:
            notes = redmine.notes_by(redmine.issue(created["id"]), "ticketwarden service")
            return [n["notes"] for n in notes if n["notes"].startswith("How did we do?")]

        redmine.update(created["id"], status="Closed")
        settle(application)
        issue = redmine.issue(created["id"])
        assert issue["status"]["name"] == "Resolved"  # sent back
        assert invitations() == []
        [survey_effect] = [row for row in application.store.outbox_rows(ticket_id=str(created["id"]))
                           if row["action"] == "survey"]
        assert survey_effect["state"] == "done" and "not sent" in (survey_effect["outcome"] or "")
        clocks = application.store.clocks_for("redmine", str(created["id"]))
        assert [row.clock.cycle for row in clocks] == [1]  # a refused close is not a reopen
        assert "close refused by a rule" in [t.reason for t in clocks[0].clock.transitions]

        redmine.update(created["id"], status="Closed", fields={"Failure origin": "customer"})
        settle(application)
        assert len(invitations()) == 1  # the close that stands asks once
        redmine.update(created["id"], status="In Progress", notes="Reopened: it happened again.")
        settle(application)
        redmine.update(created["id"], status="Closed")
        settle(application)
        assert len(invitations()) == 2  # and so does the next one
        old, new = (re.search(r"/survey/[A-Za-z0-9_-]+", text).group(0) for text in invitations())
        client = application.app.test_client()
        assert client.get(old).status_code == 410  # withdrawn by the newer survey
        assert client.post(old, data={"score": "1"}).status_code == 410
        assert client.post(new, data={"score": "5"}).status_code == 200
