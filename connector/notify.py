"""Outgoing webhooks (`notify`): POST a JSON message to a URL named in configuration.

The body works with Slack- and Mattermost-style incoming webhooks (`text`) and carries the
ticket for anything else. URLs come from the environment (`TICKETWARDEN_CHANNEL_<NAME>`), as
they are secrets in most chat systems; they are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from connector.errors import TrackerError
from rules.model import Effect

ENV_PREFIX = "TICKETWARDEN_CHANNEL_"


def channels_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Channel name (lower case, `_` as `-`) -> URL, from TICKETWARDEN_CHANNEL_<NAME>=url."""
    return {key[len(ENV_PREFIX):].lower().replace("_", "-"): value
            for key, value in environ.items() if key.startswith(ENV_PREFIX) and value}


class Notifier:
    kind = "notify"

    def __init__(self, channels: Mapping[str, str], *, timeout: float = 10.0):
        self.channels = dict(channels)
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "ticketwarden"

    def apply(self, effect: Effect, first_attempt: bool) -> str:
        channel = str(effect.params["channel"])
        url = self.channels.get(channel)
        if url is None:
            raise TrackerError(f"channel {channel!r} is not configured (set {ENV_PREFIX}{channel.upper()})",
                               transient=True)
        body: dict[str, Any] = {"text": effect.params["message"], "ticket": effect.params.get("ticket"),
                                "rule": effect.params.get("rule"), "idempotency_key": effect.key}
        try:
            response = self._session.post(url, json=body, timeout=self.timeout,
                                          headers={"Idempotency-Key": effect.key})
        except requests.RequestException as exc:
            raise TrackerError(f"channel {channel!r} unreachable: {type(exc).__name__}", transient=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TrackerError(f"channel {channel!r} answered {response.status_code}", transient=True,
                               status=response.status_code)
        if response.status_code >= 400:
            raise TrackerError(f"channel {channel!r} refused the message ({response.status_code})",
                               transient=False, status=response.status_code)
        return f"posted to {channel}"
