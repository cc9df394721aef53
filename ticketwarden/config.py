"""Settings from the environment (and command-line options that override it).

Secrets (API keys, webhook token and secrets) are read from the environment only and never
printed: `Settings.describe()` masks them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from webhooks import DEFAULT_MAX_BODY

DEFAULT_BIND = "127.0.0.1:8080"
SECRET_FIELDS = ("redmine_api_key", "webhook_token", "redmine_webhook_secret", "admin_token", "jira_webhook_secret",
                 "jira_api_token", "jira_personal_token", "reports_token")


class ConfigError(ValueError):
    pass


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'ticketwarden.db').resolve()}"


@dataclass(frozen=True)
class Settings:
    bind: str = DEFAULT_BIND
    public_url: str = ""  # where customers reach the survey pages; default http://BIND
    data_dir: Path = Path("var")
    database_url: str = ""
    rules: tuple[str, ...] = ()
    redmine_url: str = ""
    redmine_api_key: str = field(default="", repr=False)
    webhook_token: str = field(default="", repr=False)
    redmine_webhook_secret: str = field(default="", repr=False)
    admin_token: str = field(default="", repr=False)
    reports_token: str = field(default="", repr=False)
    jira_webhook_secret: str = field(default="", repr=False)
    jira_url: str = ""
    jira_user: str = ""
    jira_api_token: str = field(default="", repr=False)
    jira_personal_token: str = field(default="", repr=False)
    jira_private_visibility: str = ""
    max_body: int = DEFAULT_MAX_BODY
    webhook_rate: float = 50.0  # deliveries per second per sender address and endpoint; 0: no limit
    webhook_burst: float = 500.0  # deliveries at once before the rate applies
    poll_interval: float = 60.0
    poll_overlap: float = 60.0
    poll_lookback: float = 600.0
    worker_interval: float = 1.0
    apply_concurrency: int = 8  # tickets whose effects are written at once
    redmine_rate: float = 0.0  # calls per second to Redmine; 0: no limit of our own
    jira_rate: float = 0.0  # calls per second to Jira; 0: no limit of our own (a 429 pauses every call)
    outbox_max_attempts: int = 20
    tracker_timeout: float = 15.0
    rules_watch_interval: float = 2.0
    sla_sweep_interval: float = 30.0
    instance: str = ""  # this process's name among those sharing the database; default: the host name
    lease: float = 60.0  # seconds a claim of a process that stopped answering is held before others take it

    @property
    def instance_name(self) -> str:
        return self.instance or socket.gethostname()

    @property
    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.bind.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"bind address {self.bind!r} must be HOST:PORT")
        return host.strip("[]") or "127.0.0.1", int(port)

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.bind}").rstrip("/")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or default_database_url(self.data_dir)

    def describe(self) -> dict[str, Any]:
        """Settings for display, with secrets masked."""
        shown: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SECRET_FIELDS:
                value = "(set)" if value else "(not set)"
            shown[item.name] = str(value) if isinstance(value, Path) else value
        shown["database_url"] = _mask_url_password(self.effective_database_url)
        return shown

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **{k: v for k, v in overrides.items() if v not in (None, ())})


_ENV = {
    "bind": "TICKETWARDEN_BIND",
    "public_url": "TICKETWARDEN_PUBLIC_URL",
    "data_dir": "TICKETWARDEN_DATA_DIR",
    "database_url": "TICKETWARDEN_DATABASE_URL",
    "rules": "TICKETWARDEN_RULES",
    "redmine_url": "REDMINE_URL",
    "redmine_api_key": "REDMINE_API_KEY",
    "webhook_token": "TICKETWARDEN_WEBHOOK_TOKEN",
    "redmine_webhook_secret": "TICKETWARDEN_REDMINE_WEBHOOK_SECRET",
    "admin_token": "TICKETWARDEN_ADMIN_TOKEN",
    "reports_token": "TICKETWARDEN_REPORTS_TOKEN",
    "jira_webhook_secret": "TICKETWARDEN_JIRA_WEBHOOK_SECRET",
    "jira_url": "JIRA_URL",
    "jira_user": "JIRA_USER",
    "jira_api_token": "JIRA_API_TOKEN",
    "jira_personal_token": "JIRA_PERSONAL_TOKEN",
    "jira_private_visibility": "TICKETWARDEN_JIRA_PRIVATE_VISIBILITY",
    "rules_watch_interval": "TICKETWARDEN_RULES_WATCH_INTERVAL",
    "sla_sweep_interval": "TICKETWARDEN_SLA_SWEEP_INTERVAL",
    "max_body": "TICKETWARDEN_MAX_BODY",
    "webhook_rate": "TICKETWARDEN_WEBHOOK_RATE",
    "webhook_burst": "TICKETWARDEN_WEBHOOK_BURST",
    "poll_interval": "TICKETWARDEN_POLL_INTERVAL",
    "poll_overlap": "TICKETWARDEN_POLL_OVERLAP",
    "poll_lookback": "TICKETWARDEN_POLL_LOOKBACK",
    "worker_interval": "TICKETWARDEN_WORKER_INTERVAL",
    "apply_concurrency": "TICKETWARDEN_APPLY_CONCURRENCY",
    "redmine_rate": "TICKETWARDEN_REDMINE_RATE",
    "jira_rate": "TICKETWARDEN_JIRA_RATE",
    "outbox_max_attempts": "TICKETWARDEN_OUTBOX_MAX_ATTEMPTS",
    "tracker_timeout": "TICKETWARDEN_TRACKER_TIMEOUT",
    "instance": "TICKETWARDEN_INSTANCE",
    "lease": "TICKETWARDEN_LEASE",
}
ENVIRONMENT_VARIABLES = dict(_ENV)


def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from the environment; malformed numbers are a ConfigError."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    for name, variable in _ENV.items():
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        current = getattr(defaults, name)
        try:
            if isinstance(current, bool):
                values[name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(current, int):
                values[name] = int(raw)
            elif isinstance(current, float):
                values[name] = float(raw)
            elif isinstance(current, Path):
                values[name] = Path(raw)
            elif isinstance(current, tuple):
                values[name] = tuple(part for part in raw.split(os.pathsep) if part)
            else:
                values[name] = raw
        except ValueError as exc:
            raise ConfigError(f"{variable}={raw!r}: {exc}") from exc
    return replace(defaults, **values)


def _mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - display only
        return "(unparseable URL)"
