"""Logging set-up: text for people, JSON lines for log collectors, secrets never written.

In JSON each line is one object: `time` (UTC, ISO 8601), `level`, `logger`, `message`, and the
ids a line is about when it has them (`event`, `ticket`, `rule`, `effect`, `inbox`); an
exception adds `exception`. Whatever the format, the values of the secrets this process was
given (API keys, tokens, webhook secrets, channel URLs, the database password) are replaced by
`***` in every line, including tracebacks: a library that puts a URL or a header in an error
message cannot leak them. Ticket text that reaches a line (a trace showing the description a
condition tested, a tracker's error quoting a field) is redacted with the patterns of the
rulebook in force, as in everything else that leaves a ticket (rules.redaction): passwords and
tokens until a rulebook says otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rules.redaction import DEFAULT as DEFAULT_REDACTION
from rules.redaction import Redactor

CONTEXT_FIELDS = ("event", "ticket", "rule", "effect", "inbox")
MASK = "***"
_TICKET_TEXT: list[Redactor] = [DEFAULT_REDACTION]  # the rulebook in force's (one, replaced on reload)


def use_redaction(redactor: Redactor) -> None:
    """Redact log lines with these patterns from now on (the rulebook just put in force)."""
    _TICKET_TEXT[0] = redactor


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class Redacting(logging.Formatter):
    """Wraps a formatter: the formatted line with every secret value masked."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]):
        super().__init__()
        self.inner = inner
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return _TICKET_TEXT[0].redact(redact(self.inner.format(record), self.secrets))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def secret_values(environ: Mapping[str, str], names: Iterable[str], prefixes: Iterable[str] = ()) -> list[str]:
    """The values of the named variables, of those starting with a prefix, and the password
    of any URL among them."""
    found = [value for name, value in environ.items()
             if value and (name in set(names) or any(name.startswith(prefix) for prefix in prefixes))]
    for value in list(environ.values()):
        if "://" in value and "@" in value:
            credentials = value.split("://", 1)[1].split("@", 1)[0]
            if ":" in credentials:
                found.append(credentials.split(":", 1)[1])
    return found


def secrets_of(environ: Mapping[str, str]) -> list[str]:
    """The secrets this process was given: the secret settings, the channels' URLs (a chat
    webhook URL is a credential) and any password inside a URL."""
    from connector.notify import ENV_PREFIX
    from ticketwarden.config import ENVIRONMENT_VARIABLES, SECRET_FIELDS

    return secret_values(environ, [ENVIRONMENT_VARIABLES[name] for name in SECRET_FIELDS], [ENV_PREFIX])


def configure(level: str, fmt: str, secrets: Iterable[str]) -> None:
    """The root logger: to stderr, in `fmt` (text or json), secrets masked."""
    inner = JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler()
    handler.setFormatter(Redacting(inner, secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
