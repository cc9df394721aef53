"""Prometheus metrics (`GET /metrics`): what this process did, and the shared queues as they are.

Counters and histograms count this process's own work (deliveries answered, events decided,
effects written, how long rules and tracker writes took); gauges read the database at each
scrape, so every process shows the same depths, ages and dead letters. No label carries
ticket data: trackers, kinds, actions, queues and states only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ticketwarden.store import Store

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("pending", "processing", "done", "dead")
CLOCK_STATES = ("running", "paused", "met", "breached", "cancelled")
_HOUR = timedelta(hours=1)


class Metrics:
    def __init__(self, store: Store, clock: Callable[[], datetime]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter("ticketwarden_deliveries_received", "Webhook deliveries answered, by outcome",
                                  ["tracker", "outcome"], registry=self.registry)
        self.events = Counter("ticketwarden_events", "Inbox items handled by this process, by outcome",
                              ["source", "outcome"], registry=self.registry)
        self.effects = Counter("ticketwarden_effects", "Effects written by this process, by outcome",
                               ["tracker", "action", "outcome"], registry=self.registry)
        self.rule_seconds = Histogram("ticketwarden_rule_evaluation_seconds",
                                      "Time to decide on one event (clocks, rules, follow-ups)", ["source"],
                                      buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
                                      registry=self.registry)
        self.write_seconds = Histogram("ticketwarden_effect_write_seconds",
                                       "Time of one write to a tracker (one or several effects)", ["tracker"],
                                       buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0),
                                       registry=self.registry)
        self.registry.register(_StoreCollector(store, clock))

    def delivery(self, tracker: str, status: int, duplicate: bool) -> None:
        outcome = "duplicate" if duplicate else "accepted" if status < 300 else \
            "unavailable" if status >= 500 else "refused"
        self.deliveries.labels(tracker, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    """Gauges read from the shared database at scrape time."""

    def __init__(self, store: Store, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        depth = GaugeMetricFamily("ticketwarden_queue_depth", "Rows per queue and state (all processes)",
                                  labels=["queue", "state"])
        oldest = GaugeMetricFamily("ticketwarden_queue_oldest_waiting_seconds",
                                   "Age of the oldest pending or processing row (0: none)", labels=["queue"])
        retrying = GaugeMetricFamily("ticketwarden_queue_retrying", "Pending rows that failed before",
                                     labels=["queue"])
        clocks = GaugeMetricFamily("ticketwarden_sla_clocks", "SLA clocks per state", labels=["state"])
        due = GaugeMetricFamily("ticketwarden_sla_clocks_due_within_an_hour",
                                "Clocks with a warning or breach due within the hour")
        up = GaugeMetricFamily("ticketwarden_store_up", "1 when the database answered this scrape")
        try:
            queues = self.store.queue_summary()
            per_state, soon = self.store.clock_summary(now, _HOUR)
        except Exception:  # a scrape shows the store down, it does not fail
            log.warning("metrics: the store did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue, summary in queues.items():
            for state in STATES:
                depth.add_metric([queue, state], summary["states"].get(state, 0))
            waiting = summary["oldest_waiting"]
            oldest.add_metric([queue], max(0.0, (now - waiting).total_seconds()) if waiting else 0.0)
            retrying.add_metric([queue], summary["retrying"])
        for state in sorted({*CLOCK_STATES, *per_state}):
            clocks.add_metric([state], per_state.get(state, 0))
        due.add_metric([], soon)
        yield from (up, depth, oldest, retrying, clocks, due)
