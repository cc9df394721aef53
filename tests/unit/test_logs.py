"""Log lines: JSON with the ids a line is about, and no secret in any format or traceback."""

from __future__ import annotations

import json
import logging

from ticketwarden.logs import JsonFormatter, Redacting, secrets_of

ENVIRON = {
    "REDMINE_API_KEY": "rk-0123456789abcdef",
    "TICKETWARDEN_WEBHOOK_TOKEN": "wt-secret-token",
    "TICKETWARDEN_CHANNEL_QUALITY": "https://chat.example.test/hooks/T000/B000/XXXXsecretXXXX",
    "TICKETWARDEN_DATABASE_URL": "postgresql+psycopg://tw:db-password-42@db.internal/tw",
    "REDMINE_URL": "https://redmine.example.test",
    "HOME": "/root",
}


def record(message: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("ticketwarden.worker", logging.ERROR, __file__, 1, message, args,
                             (type(exc), exc, exc.__traceback__) if exc else None)
    made.__dict__.update(extra)
    return made


def test_the_secrets_of_the_environment_are_known():
    found = set(secrets_of(ENVIRON))
    assert {"rk-0123456789abcdef", "wt-secret-token", "db-password-42",
            "https://chat.example.test/hooks/T000/B000/XXXXsecretXXXX"} <= found
    assert "https://redmine.example.test" not in found and "/root" not in found


def test_json_lines_carry_the_ids_and_mask_secrets_even_in_tracebacks():
    formatter = Redacting(JsonFormatter(), secrets_of(ENVIRON))
    try:
        raise RuntimeError(f"GET {ENVIRON['REDMINE_URL']}/issues.json?key={ENVIRON['REDMINE_API_KEY']} failed")
    except RuntimeError as exc:
        line = formatter.format(record("effect %s failed: %s", "comment", exc, exc=exc, event="redmine:issue:7:created",
                                       ticket="redmine:7", rule="triage", effect="k1"))
    parsed = json.loads(line)
    assert parsed["level"] == "ERROR" and parsed["logger"] == "ticketwarden.worker"
    assert (parsed["event"], parsed["ticket"], parsed["rule"], parsed["effect"]) == \
        ("redmine:issue:7:created", "redmine:7", "triage", "k1")
    assert "key=***" in parsed["message"] and "key=***" in parsed["exception"]
    assert "rk-0123456789abcdef" not in line


def test_text_lines_mask_every_secret():
    formatter = Redacting(logging.Formatter("%(message)s"), secrets_of(ENVIRON))
    text = formatter.format(record("posting to %s with %s on %s", ENVIRON["TICKETWARDEN_CHANNEL_QUALITY"],
                                   ENVIRON["TICKETWARDEN_WEBHOOK_TOKEN"], ENVIRON["TICKETWARDEN_DATABASE_URL"]))
    assert text == "posting to *** with *** on postgresql+psycopg://tw:***@db.internal/tw"
