"""Customer property: what ticketwarden copies out of a ticket carries none of its secrets.

The built-in kinds on what they must hide and what they must leave; custom patterns and
their load errors at file:line; the engine giving redacted text to the actions that write
outside the ticket (and the text as it is to those that write on it); the log and reports.
"""

from __future__ import annotations

import logging
import textwrap
from datetime import datetime

import pytest

from rules.engine import evaluate
from rules.errors import RulebookInvalid
from rules.model import Comment
from rules.redaction import DEFAULT, Redactor, built_in
from rules.rulebook import load_rulebook
from tests.helpers import T0, event, ticket
from ticketwarden import logs
from ticketwarden.indicators import Report
from ticketwarden.reports import redacted

PASSWORD, TOKEN = "[redacted: password]", "[redacted: token]"


def load(text: str, name: str = "book.yaml"):
    return load_rulebook([(name, textwrap.dedent(text))])


def only(*names: str) -> Redactor:
    return Redactor(tuple(built_in(names)))


def errors_of(text: str) -> list[str]:
    with pytest.raises(RulebookInvalid) as caught:
        load(text)
    return [str(error) for error in caught.value.errors]


# -- built-in kinds -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("password: hunter2", f"password: {PASSWORD}"),
    ("Password = S3cr3t!", f"Password = {PASSWORD}"),
    ("login: admin / pwd=abc123", f"login: admin / pwd={PASSWORD}"),
    ("contraseña: Invierno2026", f"contraseña: {PASSWORD}"),
    ("la clave: 4321 del router", f"la clave: {PASSWORD} del router"),
    ('{"password": "two words"}', f'{{"password": "{PASSWORD}"}}'),
    ("passwd='o n e'", f"passwd='{PASSWORD}'"),
    ("ftp://bob:s3cret@files.example.com/x", f"ftp://bob:{PASSWORD}@files.example.com/x"),
])
def test_passwords_are_hidden_and_their_label_kept(text, expected):
    assert only("passwords").redact(text) == expected


@pytest.mark.parametrize("text", [
    "I forgot my password and cannot log in.",
    "Password reset links expire after an hour; the password field is empty.",
    "Password:\nsee the attached file",
    "We passed the tests.",
])
def test_sentences_about_passwords_stay(text):
    assert DEFAULT.redact(text) == text


@pytest.mark.parametrize(("text", "secret"), [
    ("api_key=0123456789abcdef", "0123456789abcdef"),
    ("X-Redmine-API-Key: 3f9a1c2b4d5e6f708192a3b4c5d6e7f801234567", "3f9a1c2b4d5e6f708192a3b4c5d6e7f801234567"),
    ("Authorization: Bearer abcDEF1234567890xyzXYZ", "abcDEF1234567890xyzXYZ"),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
    ("https://api.example.com/v1/items?token=abc123secret&page=2", "abc123secret"),
    ("https://maps.example.com/js?key=AIzaSyD-1234567890abcdefghijklmnopqrs&v=3", "AIzaSyD-1234567890"),
    ("client_secret: \"k9 with spaces\"", "k9 with spaces"),
    ("aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("our key is wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok", "bPxRfiCYEXAMPLEKEY"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij"),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N", "eyJhbGciOiJIUzI1NiJ9"),
    ("the key 9f86d081884c7d659a2feaa0c55ad015 works", "9f86d081884c7d659a2feaa0c55ad015"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEAAAAA"),
])
def test_tokens_are_hidden(text, secret):
    hidden = only("tokens").redact(text)
    assert secret not in hidden and TOKEN in hidden


@pytest.mark.parametrize("text", [
    "The token expired yesterday; the basic functionality works.",
    "See https://example.com/2024/03/How-To-Configure-Your-Router-Model-X500 for the steps.",
    "Fixed in commit 1a2b3c4, build 20260301.",
    "Ticket SUP-1234 is about the API key rotation feature.",
    "/var/lib/redmine/files/2026/03/screenshot.png",
    "Order 00000000000000000000000000000000 was empty.",
])
def test_ordinary_text_is_not_a_token(text):
    assert only("tokens").redact(text) == text


def test_secrets_is_another_name_for_tokens():
    book = load("""
        version: 1
        redaction: {patterns: [secrets]}
    """)
    assert book.redaction.redact("token: abcdefgh12") == f"token: {TOKEN}"


def test_emails_and_card_numbers_when_asked():
    hiding = only("emails", "credit_cards")
    assert hiding.redact("write to jane.doe+vpn@customer.example.com.") == "write to [redacted: e-mail]."
    assert hiding.redact("card 4111 1111 1111 1111, exp 12/29") == "card [redacted: card number], exp 12/29"
    assert hiding.redact("order 4111 1111 1111 1112 and phone 555-0100") == \
        "order 4111 1111 1111 1112 and phone 555-0100"  # fails the Luhn check: not a card
    assert DEFAULT.redact("mail jane@customer.example.com") == "mail jane@customer.example.com"


def test_redacting_twice_changes_nothing_and_nested_values_are_redacted():
    once = DEFAULT.redact("password: hunter2 and token=abcdef123456")
    assert DEFAULT.redact(once) == once
    value = {"subject": "pwd=x1", "fields": {"notes": ["api_key: 0123456789ab"], "n": 3}, "at": T0}
    assert DEFAULT.redact_value(value) == {
        "subject": f"pwd={PASSWORD}", "fields": {"notes": [f"api_key: {TOKEN}"], "n": 3}, "at": T0}


# -- the section -----------------------------------------------------------------------------------

def test_without_the_section_passwords_and_tokens_are_hidden():
    book = load("version: 1\n")
    assert book.redaction.redact("password: a1 token=b2c3d4e5f6 mail a@b.example") == \
        f"password: {PASSWORD} token={TOKEN} mail a@b.example"


def test_patterns_empty_turns_the_built_in_kinds_off():
    book = load("""
        version: 1
        redaction: {patterns: []}
    """)
    assert book.redaction.redact("password: a1 token=b2c3d4e5f6") == "password: a1 token=b2c3d4e5f6"


def test_custom_patterns_with_a_secret_group_and_a_replacement():
    book = load(r"""
        version: 1
        redaction:
          patterns: []
          custom:
            contract: "CT-\\d{8}"
            pin: "(?i)\\bpin\\s*[:=]\\s*(?P<secret>\\d{4,8})"
          replacement: "<{name} hidden>"
    """)
    assert book.redaction.redact("CT-12345678, PIN: 0042") == "<contract hidden>, PIN: <pin hidden>"


def test_markers_follow_the_locale_and_the_messages():
    spanish = load("version: 1\nlocale: es\n")
    assert spanish.redaction.redact("password: a1") == "password: [oculto: contraseña]"
    worded = load("""
        version: 1
        messages: {en: {redaction.marker: "(hidden {name})", redaction.token: "key"}}
    """)
    assert worded.redaction.redact("api_key=abcdef1234") == "api_key=(hidden key)"


def test_load_errors_say_file_and_line():
    problems = errors_of(r"""
        version: 1
        redaction:
          patterns: [passwords, tokenz]
          custom:
            broken: "CT-(\\d{8}"
            empty: "x*"
            boundary: "\\b"
            "bad name": "x+"
          replacement: "[{kind}]"
    """)
    assert any(p.startswith("book.yaml:4: redaction → patterns → 1: unknown pattern 'tokenz': did you mean "
                            "'tokens'?") for p in problems), problems
    assert any(p.startswith("book.yaml:6: redaction → custom → broken: pattern 'broken' is not a valid regular "
                            "expression") for p in problems), problems
    assert any(p.startswith("book.yaml:7: redaction → custom → empty: pattern 'empty' matches empty text")
               for p in problems), problems
    assert any(p.startswith("book.yaml:8: redaction → custom → boundary: pattern 'boundary' matches empty")
               for p in problems), problems
    assert any(p.startswith("book.yaml:9: redaction → custom → bad name: pattern name") for p in problems), problems
    assert any(p.startswith("book.yaml:10: redaction → replacement: the replacement may use only")
               for p in problems), problems


def test_the_section_is_defined_once_and_its_keys_are_known():
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([("a.yaml", "version: 1\nredaction: {patterns: []}\n"),
                       ("b.yaml", "version: 1\nredaction:\n  pattern: [emails]\n")])
    text = str(caught.value)
    assert "b.yaml:2: redaction: section 'redaction' is defined twice (first at a.yaml:2)" in text


# -- where it applies ------------------------------------------------------------------------------

RULES = """
    version: 1
    fields:
      details: {redmine: "Details"}
    rules:
      - name: out
        on: [ticket.commented]
        then:
          - escalate: {project: development, copy: [details], fields: {details: "{{ event.comment }}"}}
          - nonconformity:
              project: quality
              cause: "leak-{{ ticket.key }}"
              subject: "{{ ticket.subject }}"
              description: "{{ ticket.description }}"
          - notify: {channel: dev, message: "{{ ticket.key }}: {{ ticket.description }}"}
          - comment: {private: true, body: "Quoted: {{ ticket.description }}"}
"""
SECRET_PASSWORD, SECRET_KEY = "Winter2026!", "3f9a1c2b4d5e6f708192a3b4c5d6e7f801234567"


def test_actions_that_write_outside_the_ticket_see_redacted_text():
    description = f"VPN login fails. password: {SECRET_PASSWORD}\nX-Redmine-API-Key: {SECRET_KEY}"
    subject = f"VPN for bob token={SECRET_KEY}"
    leaky = ticket(subject=subject, description=description, custom_fields={"Details": f"pwd={SECRET_PASSWORD}"})
    commented = event("ticket.commented", comment=Comment(f"new password: {SECRET_PASSWORD}"))
    decision = evaluate(load(RULES), commented, leaky, T0)
    params = {effect.action: effect.params for effect in decision.effects}
    assert set(params) == {"escalate", "nonconformity", "notify", "comment"}
    for action in ("escalate", "nonconformity", "notify"):
        shown = repr(params[action])
        assert SECRET_PASSWORD not in shown and SECRET_KEY not in shown, action
        assert PASSWORD in shown, action
    assert TOKEN in params["escalate"]["description"] and TOKEN in params["notify"]["ticket"]["subject"]
    assert params["escalate"]["fields"] == {"Details": f"new password: {PASSWORD}"}
    # the note on the customer's own ticket quotes the ticket as it is
    assert SECRET_PASSWORD in params["comment"]["body"] and SECRET_KEY in params["comment"]["body"]


def test_reports_redact_their_groups():
    report = Report(datetime(2026, 3, 1), datetime(2026, 4, 1), "customer",
                    rows=[{"group": "jane@customer.example.com", "incidents": 2}, {"group": "total", "incidents": 2}],
                    charts={"origin_by_team": {"token=abcdef12345": {"internal": 1}}})
    shown = redacted(load("version: 1\nredaction: {patterns: [emails, tokens]}\n"), report)
    assert shown.rows[0] == {"group": "[redacted: e-mail]", "incidents": 2}
    assert shown.charts == {"origin_by_team": {f"token={TOKEN}": {"internal": 1}}}


def test_log_lines_are_redacted_with_the_rulebook_in_force():
    """(tests/conftest.py puts the default redaction back after each test.)"""
    formatter = logs.Redacting(logging.Formatter("%(message)s"), ["rk-0123456789abcdef"])
    line = logging.LogRecord("ticketwarden.worker", logging.INFO, __file__, 1, "  [x] description ~= vpn  (%s)",
                             (f"password: {SECRET_PASSWORD} mail jane@customer.example.com, rk-0123456789abcdef",),
                             None)
    assert formatter.format(line) == \
        f"  [x] description ~= vpn  (password: {PASSWORD} mail jane@customer.example.com, ***)"
    logs.use_redaction(load("version: 1\nredaction: {patterns: [emails]}\n").redaction)
    assert formatter.format(line) == \
        f"  [x] description ~= vpn  (password: {SECRET_PASSWORD} mail [redacted: e-mail], ***)"
