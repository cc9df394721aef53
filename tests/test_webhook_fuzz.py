"""Fuzzing both webhook endpoints with the recorded deliveries' own shapes (hypothesis).

Every accepted recorded delivery is mutated: a value anywhere in it replaced by one of the wrong
type (null, a list or an object where a scalar belongs, and so on), a key dropped, a few at
once. Whatever arrives, properly signed or not, the intake answers 202 or a 4xx with a JSON
reason, never a 5xx; a 202 stores exactly one row and a 4xx none; and what it accepted can be
read by the worker's readers (an Event and a ticket, or a PayloadError or an unknown name that
sets it aside), never another exception, which the worker would take for a passing failure and retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector import jira_payloads, redmine_payloads
from connector.errors import PayloadError, UnknownReference
from tests.test_recorded_payloads import VOCABULARY
from ticketwarden.clock import utcnow
from ticketwarden.service import StoreIntake
from ticketwarden.store import Store
from webhooks.app import WebhookSettings, create_app
from webhooks.signatures import sign

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "fuzz-token"
REDMINE_SECRET = "fuzz-redmine-secret"
JIRA_SECRET = "fuzz-jira-secret"
JIRA_NAMES = {"customfield_10050": "Failure origin"}


def accepted_cases(tracker: str) -> list[dict[str, Any]]:
    """The recorded deliveries the intake accepts as they came (the shapes to mutate)."""
    cases = []
    for path in sorted((PAYLOADS / tracker).glob("*.json")):
        case = json.loads(path.read_text())
        if case["expect"]["status"] == 202 and "body" in case:
            cases.append(case["body"])
    return cases


REDMINE = accepted_cases("redmine")
JIRA = accepted_cases("jira")

WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63), st.floats(allow_nan=False),
    st.text(max_size=30), st.just([]), st.just({}), st.lists(st.none() | st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.none() | st.text(max_size=5), max_size=3),
    st.just([[[[[]]]]]), st.just({"id": None}), st.just([{"id": "x"}]),
)


def paths_of(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document: object keys and list positions, at every depth."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths_of(value, (*prefix, index))
    return found


def mutated(document: Any, path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    """A copy of `document` with the value at `path` replaced (or its key dropped)."""
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


@st.composite
def broken(draw: st.DrawFn, bodies: list[dict[str, Any]]) -> Any:
    """A recorded body with one to three places given a wrong value or dropped."""
    document: Any = draw(st.sampled_from(bodies))
    for _ in range(draw(st.integers(1, 3))):
        places = paths_of(document)
        path = draw(st.sampled_from(places))
        document = mutated(document, path, draw(WRONG), draw(st.booleans()))
    return document


def read_redmine(body: Any) -> None:
    event = redmine_payloads.event_from_body(body, VOCABULARY)
    issue, _ = redmine_payloads.parts(body)
    if event.triggers and isinstance(issue, dict):
        redmine_payloads.ticket_from_issue(issue, VOCABULARY, "http://redmine.invalid")


def read_jira(body: Any) -> None:
    jira_payloads.event_from_body(body, JIRA_NAMES)
    issue = body.get("issue") if isinstance(body, dict) else None
    if isinstance(issue, dict) and isinstance(issue.get("fields"), dict):
        jira_payloads.ticket_from_issue(issue, "https://jira.invalid", JIRA_NAMES)


def check_intake(store: Store, url: str, headers: dict[str, str], body: bytes,
                 read: Callable[[Any], None]) -> None:
    web = create_app(StoreIntake(store, utcnow), WebhookSettings(TOKEN, REDMINE_SECRET, jira_secret=JIRA_SECRET))
    before = len(store.inbox_rows())
    response = web.test_client().post(url, data=body, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json
    stored = len(store.inbox_rows()) - before
    if response.status_code != 202:
        assert 400 <= response.status_code < 500 and response.get_json()["error"]
        assert stored == 0
        return
    assert stored == (1 if response.get_json()["status"] == "accepted" else 0)
    try:
        read(json.loads(body))
    except (PayloadError, UnknownReference):
        pass  # set aside by the worker with this reason (test_worker: malformed deliveries)


def redmine_request(document: Any, signed: bool) -> tuple[str, dict[str, str], bytes]:
    body = json.dumps(document).encode()
    if signed:
        return "/webhooks/redmine", {"X-Redmine-Signature-256": sign(body, REDMINE_SECRET)}, body
    return "/webhooks/redmine", {"X-Ticketwarden-Token": TOKEN}, body


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@FUZZ
@given(document=broken(REDMINE), signed=st.booleans())
def test_redmine_endpoint_answers_4xx_to_any_broken_shape(sqlite_store, document, signed):
    url, headers, body = redmine_request(document, signed)
    check_intake(sqlite_store, url, headers, body, read_redmine)


@FUZZ
@given(document=broken(JIRA))
def test_jira_endpoint_answers_4xx_to_any_broken_shape(sqlite_store, document):
    body = json.dumps(document).encode()
    check_intake(sqlite_store, "/webhooks/jira", {"X-Hub-Signature": sign(body, JIRA_SECRET)}, body, read_jira)


@FUZZ
@given(raw=st.binary(max_size=200), endpoint=st.sampled_from(["redmine", "jira"]))
def test_any_bytes_at_all_get_a_4xx(sqlite_store, raw, endpoint):
    headers = {"X-Ticketwarden-Token": TOKEN} if endpoint == "redmine" else {"X-Hub-Signature": sign(raw, JIRA_SECRET)}
    check_intake(sqlite_store, f"/webhooks/{endpoint}", headers, raw, lambda body: None)


@pytest.mark.parametrize("endpoint", ["redmine", "jira"])
@pytest.mark.parametrize("raw", [
    b"\xff\xfe{\"payload\": 1}",  # invalid UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # nested past the JSON parser's recursion limit
    b"{\"a\": " * 50_000 + b"1" + b"}" * 50_000,
    json.dumps({"payload": {"action": "opened", "issue": {"id": 1, "subject": "x" * 500_000}}}).encode(),
], ids=["invalid-utf8", "deep-lists", "deep-objects", "large"])
def test_bodies_the_parser_cannot_take_get_a_4xx(sqlite_store, endpoint, raw):
    headers = {"X-Ticketwarden-Token": TOKEN} if endpoint == "redmine" else {"X-Hub-Signature": sign(raw, JIRA_SECRET)}
    check_intake(sqlite_store, f"/webhooks/{endpoint}", headers, raw, lambda body: None)


@pytest.mark.parametrize("endpoint", ["redmine", "jira"])
def test_wrong_and_missing_credentials_store_nothing(sqlite_store, endpoint):
    body = json.dumps(REDMINE[0] if endpoint == "redmine" else JIRA[0]).encode()
    web = create_app(StoreIntake(sqlite_store, utcnow),
                     WebhookSettings(TOKEN, REDMINE_SECRET, jira_secret=JIRA_SECRET)).test_client()
    tries = [{}, {"X-Ticketwarden-Token": TOKEN + "x"}, {"X-Redmine-Signature-256": "sha256=" + "0" * 64},
             {"X-Hub-Signature": "sha256=" + "0" * 64}, {"X-Hub-Signature": "md5=abc"},
             {"X-Hub-Signature": sign(body + b" ", JIRA_SECRET)}]
    for headers in tries:
        answer = web.post(f"/webhooks/{endpoint}", data=body, headers=headers)
        assert answer.status_code in (401, 403), (headers, answer.get_json())
        assert answer.get_json()["error"]
    assert sqlite_store.inbox_rows() == []


def test_a_replayed_delivery_is_stored_once(sqlite_store):
    url, headers, body = redmine_request(REDMINE[0], signed=True)
    web = create_app(StoreIntake(sqlite_store, utcnow),
                     WebhookSettings(TOKEN, REDMINE_SECRET, jira_secret=JIRA_SECRET)).test_client()
    answers = [web.post(url, data=body, headers=headers).get_json()["status"] for _ in range(3)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    assert len(sqlite_store.inbox_rows()) == 1
