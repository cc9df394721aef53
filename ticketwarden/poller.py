"""Reconciliation poller: reads what changed since a stored watermark into the inbox.

The redmine_webhook plugin loses events silently (no retry, nothing on bulk edits), so the
poller runs even when webhooks are on; with no webhook at all it is the only source. Its
deliveries share the inbox's de-duplication keys (issue and journal), so an event that came by
webhook is not stored again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Protocol

from connector.errors import Polled
from ticketwarden.clock import Clock, utcnow
from ticketwarden.store import Store, ticket_ref

log = logging.getLogger(__name__)


class PollingConnector(Protocol):
    kind: str

    def poll(self, since: datetime, overlap: timedelta) -> Iterator[Polled]: ...


# The named value holding a tracker's watermark: its last finished pass is when it was set.
WATERMARK_PREFIX, WATERMARK_SUFFIX = "poll:", ":watermark"


class Poller:
    def __init__(self, store: Store, connector: PollingConnector, *, clock: Clock = utcnow,
                 overlap: timedelta = timedelta(seconds=60), lookback: timedelta = timedelta(minutes=10)):
        self.store = store
        self.connector = connector
        self.clock = clock
        self.overlap = overlap
        self.lookback = lookback
        self.state_name = f"{WATERMARK_PREFIX}{connector.kind}{WATERMARK_SUFFIX}"

    def watermark(self) -> datetime:
        stored = self.store.get_value(self.state_name)
        if stored:
            return datetime.fromisoformat(stored)
        return self.clock() - self.lookback

    def poll_once(self) -> int:
        """One pass; returns how many new events went into the inbox."""
        since = self.watermark()
        newest = since
        stored = 0
        for found in self.connector.poll(since, self.overlap):
            new, _ = self.store.store_delivery(
                source=self.connector.kind, shape=found.shape, dedup_key=found.dedup_key,
                path="(poll)", headers={}, body=json.dumps(found.body), now=self.clock(),
                ticket=ticket_ref(self.connector.kind, found.ticket_id) if found.ticket_id else None)
            stored += int(new)
            if found.updated is not None and found.updated > newest:
                newest = found.updated
        # The watermark follows the tracker's own clock (its update times), never ours.
        self.store.set_value(self.state_name, newest.isoformat(), self.clock())
        if stored:
            log.info("poller: %d new events from %s", stored, self.connector.kind)
        return stored
