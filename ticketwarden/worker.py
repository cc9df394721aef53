"""The worker: inbox -> normalise -> rules -> outbox, and outbox -> tracker.

Delivery is at least once (webhooks, polling and replays overlap); effects are exactly once:
each effect's idempotency key is recorded once in the outbox, in the same transaction that
marks its event done, and the connector applies it once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import queue
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from connector.delivery import Delivered, without_history
from connector.errors import SHAPE_ERRORS, PayloadError, TrackerError, UnknownReference
from rules.engine import SELF, Decision, evaluate_scheduled
from rules.measures import measure, ticket_facts, window
from rules.model import Effect, Event, Person, Ticket
from rules.pipeline import decide_sla, process
from rules.rulebook import Rulebook
from ticketwarden import records, sla
from ticketwarden.clock import Clock, utcnow
from ticketwarden.knowledge import KnowledgeBase
from ticketwarden.publish import ReportPublisher
from ticketwarden.records import RecordKeeper
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.serial import SerialPool
from ticketwarden.store import (
    Applied,
    ClockConflict,
    ClockRow,
    Completion,
    Failed,
    InboxItem,
    OriginChange,
    OutboxItem,
    RecordRow,
    Seen,
    Store,
)
from ticketwarden.surveys import Surveys

if TYPE_CHECKING:
    from ticketwarden.metrics import Metrics

log = logging.getLogger(__name__)


class Applier(Protocol):
    """Writes effects somewhere (a tracker, a chat channel)."""

    kind: str

    def apply(self, effect: Effect, first_attempt: bool) -> str: ...


class Connector(records.RecordConnector, Protocol):
    """A tracker: also turns its deliveries into events and knows its own user."""

    def read(self, body: dict[str, Any], received_at: datetime | None = None) -> Delivered:
        """The delivery's Event and its issue when it is enough to decide on; `received_at`
        dates a delivery with no time."""

    def fetch(self, ticket_id: str, journals: bool = False) -> dict[str, Any] | None: ...

    def changed_at(self, issue: dict[str, Any]) -> datetime | None: ...

    def decided_on(self, event: Event, issue: dict[str, Any] | None, body: dict[str, Any]
                   ) -> tuple[Event, Ticket | None]: ...

    def ticket_of(self, issue: dict[str, Any]) -> Ticket: ...

    def ticket(self, ticket_id: str) -> Ticket | None: ...

    def service_user(self) -> Person: ...


@runtime_checkable
class WritesTogether(Protocol):
    """A tracker that can write several effects on one ticket as one save."""

    def mergeable(self, effects: list[Effect]) -> bool: ...

    def apply_together(self, effects: list[Effect], first_attempt: bool) -> list[str]: ...


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 5.0
    cap: float = 900.0
    max_attempts: int = 20

    def delay(self, attempt: int) -> timedelta:
        """Exponential backoff with ±20% jitter, so many failures do not retry in lock-step."""
        seconds = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


class Worker:
    def __init__(self, store: Store, connectors: Mapping[str, Connector], rules: RulebookHolder,
                 *, clock: Clock = utcnow, retry: RetryPolicy = RetryPolicy(),
                 lease: timedelta = timedelta(minutes=5), notifier: Applier | None = None,
                 surveys: Surveys | None = None, concurrency: int = 8, metrics: Metrics | None = None):
        self.store = store
        self.metrics = metrics
        self.connectors = connectors
        self.notifier = notifier
        self._book: sla.SlaBook | None = None
        self.rules = rules
        self.clock = clock
        self.retry = retry
        self.lease = lease
        self.records = RecordKeeper(store, clock, lease, rules=rules)
        self.surveys = surveys or Surveys(store, clock, "http://127.0.0.1:8080")
        self.publisher = ReportPublisher(store, rules, clock)
        self.knowledge = KnowledgeBase(store, rules, clock)
        self.applier = SerialPool(concurrency)
        self._closing = False  # set by close(): no more effects are claimed
        self._outcomes: queue.SimpleQueue[Applied | Failed] = queue.SimpleQueue()  # from the pool, to record

    # -- inbox ---------------------------------------------------------------------------------

    def process_inbox(self, limit: int = 100) -> int:
        """Handle due inbox rows as one batch: each item is decided in order (a later event of
        the same ticket sees the clocks the earlier one moved), then everything the batch
        decided is recorded in one transaction. Returns how many items were taken."""
        items = self.store.claim_inbox(self.clock(), self.lease, limit)
        batch = _Batch(self.store)
        self._read_ahead(items, batch)
        for item in items:
            self._process(item, batch)
        self._record(batch)
        return len(items)

    def _process(self, item: InboxItem, batch: _Batch) -> None:
        if item.attempts > self.retry.max_attempts:
            self._dead_inbox(item, f"gave up after {item.attempts - 1} attempts")
            return
        try:
            decided = self._handle(item, batch)
        except Exception as exc:
            log.exception("inbox %s failed unexpectedly", item.id)
            self._retry_inbox(item, f"{type(exc).__name__}: {exc}")
            return
        if decided is not None:
            batch.add(decided)

    def _read_ahead(self, items: list[InboxItem], batch: _Batch) -> None:
        """Read the batch's deliveries first, so the clocks and seen states of all its tickets
        come from the store in a few queries instead of two per item. A delivery that cannot be
        read here is read again, and reported, when its turn comes."""
        refs = set()
        for item in items:
            connector = self.connectors.get(item.source)
            try:
                body = json.loads(item.body)
                if connector is not None:
                    delivery = connector.read(body, received_at=item.received_at)
                    batch.read[item.id] = (body, delivery)
                    refs.add((delivery.event.tracker_kind, delivery.event.ticket_id))
                elif item.source in (sla.SOURCE, records.SOURCE):
                    spec = _derived_spec(item.source, body)
                    refs.add((str(spec["tracker"]), str(spec["ticket_id"])))
            except Exception:  # noqa: BLE001, S112 - decided (and reported) one by one later
                continue
        batch.prefetch(refs)

    def _record(self, batch: _Batch) -> None:
        """Store the batch's decisions at once; when a clock changed meanwhile (another process),
        item by item, so only the items that conflict are decided again."""
        if not batch.decided:
            return
        try:
            self._log(batch.decided, self.store.complete([d.completion for d in batch.decided], self.clock()))
            return
        except ClockConflict:
            pass
        except Exception:
            log.exception("a batch of %d decisions could not be recorded; recording them one by one",
                          len(batch.decided))
        for decided in batch.decided:
            try:
                self._log([decided], self.store.complete([decided.completion], self.clock()))
            except ClockConflict as exc:  # another worker moved the clock: decide again on its state, now
                self._retry_inbox(decided.item, str(exc), at_once=True)
            except Exception as exc:
                log.exception("inbox %s: its decision could not be recorded", decided.item.id)
                self._retry_inbox(decided.item, f"{type(exc).__name__}: {exc}")

    def _log(self, decided: list[_Decided], new: list[int]) -> None:
        traced = log.isEnabledFor(logging.INFO)  # a trace's text is made only when it is logged
        for one, fresh in zip(decided, new, strict=True):
            self._count_event(one.item, "decided")
            shown = one.decisions if traced else []
            for number, decision in enumerate(shown):  # the event's in full, the SLA events' in short
                log.info("%s", decision.format(verbose=one.verbose and number == 0), extra={
                    "event": decision.event_id, "inbox": one.item.id,
                    "ticket": f"{one.completion.tracker}:{one.completion.ticket_id}",
                    "rule": [trace.rule for trace in decision.rules if trace.matched] or None})
            planned = len(one.completion.effects)
            if planned and fresh < planned:
                log.info("event %s: %d of %d effects were already recorded", one.decisions[0].event_id,
                         planned - fresh, planned)

    def _handle(self, item: InboxItem, batch: _Batch) -> _Decided | None:
        if item.source == "schedule":
            return self._handle_schedule(item)
        if item.source in (sla.SOURCE, records.SOURCE):
            return self._handle_derived(item, batch)
        connector = self.connectors.get(item.source)
        if connector is None:
            self._retry_inbox(item, f"no {item.source} tracker is configured")
            return None
        rulebook = self.rules.current
        if rulebook is None:
            self._retry_inbox(item, "no valid rulebook is loaded")
            return None
        try:
            return self._decide_delivery(item, connector, rulebook, batch)
        except TrackerError as exc:
            self._tracker_failed(item, exc)
        except (PayloadError, UnknownReference, *SHAPE_ERRORS) as exc:
            # Reading it again will not change it: set aside once, with the reason, for
            # `ticketwarden status` to show and `ticketwarden retry` to bring back.
            reason = str(exc) if isinstance(exc, PayloadError) else f"malformed delivery ({type(exc).__name__}: {exc})"
            log.warning("inbox %s set aside: %s", item.id, reason, exc_info=not isinstance(exc, PayloadError))
            self._dead_inbox(item, reason)
        return None

    def _decide_delivery(self, item: InboxItem, connector: Connector, rulebook: Rulebook,
                         batch: _Batch) -> _Decided:
        """A tracker's delivery through the pipeline step, with what the store keeps of it."""
        body, delivery = batch.read.pop(item.id) if item.id in batch.read else self._read(connector, item)
        issue, seen = self._newest_issue(connector, delivery, batch) if delivery.event.triggers else (None, None)
        event, ticket = connector.decided_on(delivery.event, issue, body)
        now = self.clock()
        event = self._one_comment(item, event, now)
        event = self._with_its_parts(item, event)
        event = self._refusal_of_a_close(connector, event)
        stored = batch.clocks_for(event.tracker_kind, event.ticket_id) \
            if ticket is not None and event.triggers and rulebook.sla else []
        book = self._sla_book(rulebook)
        started = time.perf_counter()
        step = process(rulebook, book.calendars, event, ticket, [row.clock for row in stored], now,
                       ours=self._is_ours(connector, event))
        if self.metrics is not None:
            self.metrics.rule_seconds.labels(item.source).observe(time.perf_counter() - started)
        versions = {(row.clock.policy, row.clock.cycle): row.version for row in stored}
        rows = [book.row(clock, now, versions.get((clock.policy, clock.cycle), 0)) for clock in step.moved]
        follow_ups = [] if ticket is None or not event.triggers else \
            self.records.on_event(event, ticket, batch.records_targeting(event.tracker_kind, event.ticket_id))
        facts = ticket_facts(rulebook, ticket, rulebook.staff.roles_of, now) \
            if ticket is not None and event.triggers else None
        done = Completion(item.id, event.tracker_kind, event.ticket_id, step.effects,
                          [decision.to_dict() for decision in step.decisions], rows, follow_ups,
                          self._origin_changes(connector, rulebook, event, ticket), facts,
                          [part.id for part in event.parts], step.breaches, seen)
        batch.saw(seen)
        return _Decided(item, done, step.decisions)

    @staticmethod
    def _read(connector: Connector, item: InboxItem) -> tuple[dict[str, Any], Delivered]:
        body = json.loads(item.body)
        return body, connector.read(body, received_at=item.received_at)

    def _newest_issue(self, connector: Connector, delivery: Delivered, batch: _Batch
                      ) -> tuple[dict[str, Any] | None, Seen | None]:
        """The newest state known of the delivery's ticket, and what to remember of it.

        The delivery's own issue when nothing as new was seen; the stored state when it is
        newer and nobody but its tracker changed it since. Otherwise the tracker is asked: we
        wrote to the ticket since, the delivery cannot be decided on alone, or the two changed
        in the same second (times are compared at whole seconds, the precision every tracker
        answer has, so which is newer cannot be told).
        """
        event = delivery.event
        known = batch.seen(event.tracker_kind, event.ticket_id)
        if delivery.issue is not None and delivery.changed_at is not None:
            delivered = _second(delivery.changed_at)
            if known is None or (not known.stale and delivered > _second(known.changed_at)):
                return delivery.issue, Seen(event.tracker_kind, event.ticket_id, delivery.changed_at, delivery.issue)
            if not known.stale and delivered < _second(known.changed_at):
                return dict(known.issue), None
        return self._fetched(connector, event.tracker_kind, event.ticket_id, journals=delivery.issue is None)

    @staticmethod
    def _fetched(connector: Connector, tracker: str, ticket_id: str, journals: bool = False
                 ) -> tuple[dict[str, Any] | None, Seen | None]:
        issue = connector.fetch(ticket_id, journals=journals)
        changed = connector.changed_at(issue) if issue is not None else None
        if issue is None or changed is None:
            return issue, None
        return issue, Seen(tracker, ticket_id, changed, without_history(issue))

    def _handle_schedule(self, item: InboxItem) -> _Decided | None:
        rulebook = self.rules.current
        if rulebook is None:
            self._retry_inbox(item, "no valid rulebook is loaded")
            return None
        body = json.loads(item.body)["schedule"]
        fired_at, now = datetime.fromisoformat(body["at"]), self.clock()
        rule = rulebook.rule(body["rule"])
        if rule is not None and rule.measure is not None:
            start, end, month = window(rule.measure, fired_at)
            groups = measure(rulebook, rule.measure, self.store.facts_between(start, end))
            bounds = {"start": start, "end": end, "month": month,
                      "label": rule.measure.month or f"{start.date().isoformat()} – {end.date().isoformat()}"}
            decision = evaluate_scheduled(rulebook, body["rule"], fired_at, now, groups, bounds)
        else:
            decision = evaluate_scheduled(rulebook, body["rule"], fired_at, now)
        done = Completion(item.id, "schedule", "-", decision.effects, [decision.to_dict()])
        return _Decided(item, done, [decision])

    def _one_comment(self, item: InboxItem, event: Event, now: datetime) -> Event:
        """A change that carries a comment which also has a delivery of its own (Jira sends a
        transition's comment again as comment_created): the comment counts once."""
        comment = event.comment
        if comment is None or not comment.key or comment.key == item.dedup_key:
            return event
        if self.store.claim_key(item.source, comment.key, now):
            return event  # ours: the comment's own delivery will be a duplicate
        return dataclasses.replace(event, comment=None, triggers=event.triggers - {"ticket.commented"})

    def _with_its_parts(self, item: InboxItem, event: Event) -> Event:
        """The event as the whole save it belongs to: the journals the tracker split off
        (Redmine: the changes saved with a private note) that no delivery brought yet."""
        if not event.parts:
            return event
        known = self.store.known_keys(item.source, [part.id for part in event.parts])
        return event.including([part for part in event.parts if part.id not in known])

    def _refusal_of_a_close(self, connector: Connector, event: Event) -> Event:
        """Our own reopen that sends a close back (a rule refused the close) continues the
        ticket's clocks: a refused close is not a reopen. Marked when the transition is written."""
        if "ticket.reopened" not in event.triggers or not self._is_ours(connector, event):
            return event
        marker = _refused_close(event.tracker_kind, event.ticket_id)
        if not self.store.get_value(marker):
            return event
        self.store.set_value(marker, "", self.clock())
        return dataclasses.replace(event, close_refused=True)

    def _sla_book(self, rulebook: Rulebook) -> sla.SlaBook:
        if self._book is None or self._book.rulebook is not rulebook:
            self._book = sla.SlaBook(rulebook)
        return self._book

    def _handle_derived(self, item: InboxItem, batch: _Batch) -> _Decided | None:
        """An event ticketwarden itself found later (an SLA warning or breach the sweep found, a
        development issue changed, a record's reminder came due) goes through the rules like
        any tracker event, on the ticket as the tracker has it now."""
        rulebook = self.rules.current
        spec = _derived_spec(item.source, json.loads(item.body))
        if item.source == sla.SOURCE:
            triggers, policy, related = frozenset({spec["trigger"]}), spec["policy"], {}
        else:
            triggers, policy, related = frozenset(spec["triggers"]), None, spec.get("facts", {})
        connector = self.connectors.get(spec["tracker"])
        if rulebook is None or connector is None:
            self._retry_inbox(item, "no valid rulebook is loaded" if rulebook is None
                              else f"no {spec['tracker']} tracker is configured")
            return None
        now = self.clock()
        event = Event(item.dedup_key, spec["tracker"], spec["ticket_id"], triggers,
                      datetime.fromisoformat(spec["at"]), SELF, sla_policy=policy, related=related)
        try:
            ticket, seen = self._current_ticket(connector, event, batch)
        except TrackerError as exc:
            self._tracker_failed(item, exc)
            return None
        clocks = [row.clock for row in batch.clocks_for(event.tracker_kind, event.ticket_id)] \
            if ticket is not None and rulebook.sla else []
        decision = decide_sla(rulebook, self._sla_book(rulebook).calendars, event, ticket, clocks, now)
        done = Completion(item.id, event.tracker_kind, event.ticket_id, decision.effects, [decision.to_dict()],
                          breaches=int("sla.breached" in triggers), seen=seen)
        batch.saw(seen)
        return _Decided(item, done, [decision], verbose=False)

    def _current_ticket(self, connector: Connector, event: Event, batch: _Batch) -> tuple[Ticket | None, Seen | None]:
        """The ticket as stored when nobody but its tracker changed it since; else as fetched."""
        known = batch.seen(event.tracker_kind, event.ticket_id)
        if known is not None and not known.stale:
            return connector.ticket_of(dict(known.issue)), None
        issue, seen = self._fetched(connector, event.tracker_kind, event.ticket_id)
        return (connector.ticket_of(issue) if issue is not None else None), seen

    @staticmethod
    def _is_ours(connector: Connector, event: Event) -> bool:
        """The event is ticketwarden's own change (the loop guard keeps rules off it)."""
        return event.actor is not None and event.actor.id == connector.service_user().id

    def _origin_changes(self, connector: Connector, rulebook: Rulebook, event: Event,
                        ticket: Ticket | None) -> list[OriginChange]:
        """A person's change of the failure origin (ours are recorded when written, with the rule)."""
        ref = rulebook.origin_ref(event.tracker_kind)
        if ref is None or ticket is None or event.actor is None or self._is_ours(connector, event):
            return []
        change = OriginChange.by_person(ref, event, ticket)
        return [change] if change is not None else []

    def _tracker_failed(self, item: InboxItem, exc: TrackerError) -> None:
        """Try again later when the tracker may answer then; set aside when it refused."""
        if exc.transient:
            self._retry_inbox(item, str(exc), exc.retry_after)
        else:
            self._dead_inbox(item, str(exc))

    def _dead_inbox(self, item: InboxItem, reason: str) -> None:
        self.store.dead_inbox(item.id, reason, self.clock())
        self._count_event(item, "dead")

    def _count_event(self, item: InboxItem, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.events.labels(item.source, outcome).inc()

    def _retry_inbox(self, item: InboxItem, error: str, retry_after: float | None = None,
                     at_once: bool = False) -> None:
        """Put an item back: after the retry's back-off (and no sooner than `retry_after`), or
        `at_once` when nothing failed and only a newer state must be decided on."""
        if at_once:
            log.info("inbox %s: %s; deciding again", item.id, error)
        else:
            log.warning("inbox %s: %s; retrying later", item.id, error)
        self._count_event(item, "retried")
        wait = timedelta(0) if at_once else max(self.retry.delay(item.attempts), timedelta(seconds=retry_after or 0))
        self.store.retry_inbox(item.id, error, self.clock() + wait)

    # -- outbox ----------------------------------------------------------------------------------

    def apply_outbox(self, limit: int = 100, wait: bool = True) -> int:
        """Claim due effects and apply them on the pool: one ticket's in order, different
        tickets at once. `wait` returns once they are applied (or failed); without it the
        caller goes on while they are written. Returns how many were taken."""
        self.record_outcomes()
        if self._closing or self.applier.pending >= 2 * self.applier.workers:
            return 0  # stopping, or saturated: leave the rest to be claimed when there is room
        items = self.store.claim_outbox(self.clock(), self.lease, limit)
        groups: dict[tuple[str, str], list[OutboxItem]] = {}
        for item in items:
            groups.setdefault((item.effect.tracker_kind, item.effect.ticket_id), []).append(item)
        for key, group in groups.items():
            self.applier.submit(key, functools.partial(self._apply_group, group))
        if wait:
            self.wait_applied()
        return len(items)

    def wait_applied(self, timeout: float | None = None) -> bool:
        """Wait for the effects being written, and record what they came to."""
        finished = self.applier.wait(timeout)
        self.record_outcomes()
        return finished

    def record_outcomes(self) -> None:
        """Store what the pool's writes came to, all in one transaction: the pool's threads
        only talk to trackers, so they never queue for the store's write lock. (A crash before
        this leaves the effects claimed: they are retried when the claim lapses, and a retry
        finds a note already written instead of writing it twice.)"""
        applied: list[Applied] = []
        failed: list[Failed] = []
        while True:
            try:
                outcome = self._outcomes.get_nowait()
            except queue.Empty:
                break
            if isinstance(outcome, Applied):
                applied.append(outcome)
            else:
                failed.append(outcome)
        self.store.record_outcomes(applied, failed, self.clock())
        if self.metrics is not None:
            for effect, result in [(done.item.effect, "applied") for done in applied] + [
                    (lost.item.effect, "retried" if lost.retry_at else "dead") for lost in failed]:
                self.metrics.effects.labels(effect.tracker_kind, effect.action, result).inc()

    def _apply_group(self, items: list[OutboxItem]) -> None:
        """One ticket's effects in order; consecutive ones its tracker can write together
        (Redmine: fields, status and a note in one save) as one write."""
        run: list[OutboxItem] = []
        for item in items:
            if run and not self._together([*run, item]):
                self._apply_run(run)
                run = []
            run.append(item)
        if run:
            self._apply_run(run)

    def _together(self, items: list[OutboxItem]) -> bool:
        connector = self.connectors.get(items[0].effect.tracker_kind)
        return isinstance(connector, WritesTogether) and connector.mergeable([item.effect for item in items])

    def _apply_run(self, run: list[OutboxItem]) -> None:
        """Write a run of one ticket's effects (one write when there are several), and queue
        what it came to for `record_outcomes`."""
        started = time.perf_counter()
        try:
            outcomes = self._write(run)
        except TrackerError as exc:
            for item in run:
                self._effect_failed(item, str(exc), exc.transient, exc.retry_after)
            return
        except Exception as exc:
            log.exception("effects %s failed unexpectedly", ", ".join(item.effect.key for item in run))
            for item in run:
                self._effect_failed(item, f"{type(exc).__name__}: {exc}", True)
            return
        if self.metrics is not None:
            self.metrics.write_seconds.labels(run[0].effect.tracker_kind).observe(time.perf_counter() - started)
        together = f", one write of {len(run)}" if len(run) > 1 else ""
        for item, outcome in zip(run, outcomes, strict=True):
            effect = item.effect
            self._outcomes.put(Applied(item, outcome, self._origin_written(effect)))
            log.info("applied %s on %s %s (rule %r%s): %s", effect.action, effect.tracker_kind,
                     effect.ticket_id, effect.rule, together, outcome, extra=_about(effect))

    def _write(self, run: list[OutboxItem]) -> list[str]:
        """One outcome per effect; raises TrackerError."""
        if len(run) == 1:
            return [self._write_one(run[0])]
        effects = [item.effect for item in run]
        connector = self.connectors[effects[0].tracker_kind]
        assert isinstance(connector, WritesTogether)
        for effect in effects:
            self._before_write(effect)
        return connector.apply_together(effects, all(item.attempts <= 1 for item in run))

    def _before_write(self, effect: Effect) -> None:
        """A transition that sends a close back is marked before it is written: its own
        delivery then continues the ticket's clocks instead of reopening them."""
        if effect.params.get("refuses_close"):
            self.store.set_value(_refused_close(effect.tracker_kind, effect.ticket_id),
                                 self.clock().isoformat(), self.clock())

    def close(self, timeout: float | None = None) -> bool:
        """Stop taking effects; wait up to `timeout` for those being written, and record them."""
        self._closing = True
        finished = self.applier.close(timeout)
        self.record_outcomes()
        return finished

    def _write_one(self, item: OutboxItem) -> str:
        effect = item.effect
        # notify goes to the outgoing webhooks, whatever tracker (if any) the ticket is on
        connector: Applier | None = self.notifier if effect.action == "notify" else \
            self.connectors.get(str(effect.params.get("tracker")) if effect.action == "publish_report"
                                else effect.tracker_kind)
        if connector is None:
            raise TrackerError(f"no {effect.tracker_kind} tracker is configured", transient=True)
        if effect.action in ("escalate", "nonconformity"):
            assert connector is not self.notifier
            return self.records.apply(effect, self.connectors[effect.tracker_kind], item.attempts <= 1)
        if effect.action == "survey":
            assert connector is not self.notifier
            return self.surveys.apply(effect, self.connectors[effect.tracker_kind], item.attempts <= 1,
                                      close_refused=self.store.close_refused_with(item))
        if effect.action == "publish_report":
            return self.publisher.apply(effect, connector)
        if effect.action in ("knowledge_article", "suggest_articles"):
            return self.knowledge.apply(effect, connector, item.attempts <= 1)
        self._before_write(effect)
        return connector.apply(effect, first_attempt=item.attempts <= 1)

    def _origin_written(self, effect: Effect) -> OriginChange | None:
        """The origin change a `set` effect wrote, with the rule that decided it."""
        rulebook = self.rules.current
        if effect.action != "set" or rulebook is None:
            return None
        ref = rulebook.origin_ref(effect.tracker_kind)
        custom = effect.params.get("custom", {})
        if ref is None or ref not in custom:
            return None
        old = (effect.params.get("previous") or {}).get(ref)
        if (old or None) == (custom[ref] or None):
            return None
        return OriginChange(effect.tracker_kind, effect.ticket_id, self.clock(), old, custom[ref], "rule",
                            effect.rule, effect.key)

    def _effect_failed(self, item: OutboxItem, error: str, transient: bool,
                       retry_after: float | None = None) -> None:
        """Retry later (no sooner than the tracker asked), or dead-letter."""
        now = self.clock()
        if transient and item.attempts < self.retry.max_attempts:
            retry_at = now + max(self.retry.delay(item.attempts), timedelta(seconds=retry_after or 0))
            log.warning("effect %s on %s: %s; retry %d at %s", item.effect.action,
                        item.effect.ticket_id, error, item.attempts, retry_at.isoformat(), extra=_about(item.effect))
            self._outcomes.put(Failed(item, error, retry_at))
        else:
            log.error("effect %s on %s dead-lettered after %d attempts: %s", item.effect.action,
                      item.effect.ticket_id, item.attempts, error, extra=_about(item.effect))
            self._outcomes.put(Failed(item, error, None))


def _about(effect: Effect) -> dict[str, str]:
    """What a log line about an effect is about (the fields of JSON logs)."""
    return {"ticket": f"{effect.tracker_kind}:{effect.ticket_id}", "rule": effect.rule, "effect": effect.key}


def _derived_spec(source: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """What an event ticketwarden raised is about: an SLA event's clock, a record's ticket."""
    spec: Mapping[str, Any] = body["sla" if source == sla.SOURCE else "related"]
    return spec


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _refused_close(tracker: str, ticket_id: str) -> str:
    """The named value that says our transition sending a close back is on its way."""
    return f"refused-close:{tracker}:{ticket_id}"


@dataclass
class _Decided:
    """An inbox item decided, waiting for its batch to be recorded."""

    item: InboxItem
    completion: Completion
    decisions: list[Decision]
    verbose: bool = True


class _Batch:
    """The items of one batch decided so far, and the clocks as they will be once recorded:
    a later event of the same ticket in the batch continues from the earlier one's clocks."""

    def __init__(self, store: Store):
        self.store = store
        self.decided: list[_Decided] = []
        self._clocks: dict[tuple[str, str], list[ClockRow]] = {}
        self._seen: dict[tuple[str, str], Seen | None] = {}
        self._records: dict[tuple[str, str], list[RecordRow]] = {}
        self.read: dict[int, tuple[dict[str, Any], Delivered]] = {}  # inbox item id -> body, delivery

    def prefetch(self, refs: set[tuple[str, str]]) -> None:
        """The clocks and seen states of these tickets, in a few queries."""
        if not refs:
            return
        clocks: dict[tuple[str, str], list[ClockRow]] = {ref: [] for ref in refs}
        for row in self.store.clocks_of(refs):
            clocks[(row.clock.tracker, row.clock.ticket_id)].append(row)
        for ref, rows in clocks.items():
            self._clocks.setdefault(ref, sorted(rows, key=lambda row: row.clock.cycle))
        seen = self.store.seen_of(refs)
        for ref in refs:
            self._seen.setdefault(ref, seen.get(ref))
        targeted = self.store.records_targeting_any(refs)
        for ref in refs:
            self._records.setdefault(ref, targeted.get(ref, []))

    def records_targeting(self, tracker: str, ticket_id: str) -> list[RecordRow]:
        """Records whose issue is this ticket, as the batch began (a record is created when its
        escalation is written, long before its issue's status changes)."""
        key = (tracker, ticket_id)
        if key not in self._records:
            self._records[key] = self.store.records_targeting(tracker, ticket_id)
        return self._records[key]

    def seen(self, tracker: str, ticket_id: str) -> Seen | None:
        key = (tracker, ticket_id)
        if key not in self._seen:
            self._seen[key] = self.store.seen(tracker, ticket_id)
        return self._seen[key]

    def saw(self, seen: Seen | None) -> None:
        if seen is not None:
            self._seen[(seen.tracker, seen.ticket_id)] = seen

    def clocks_for(self, tracker: str, ticket_id: str) -> list[ClockRow]:
        key = (tracker, ticket_id)
        if key not in self._clocks:
            self._clocks[key] = self.store.clocks_for(tracker, ticket_id)
        return self._clocks[key]

    def add(self, decided: _Decided) -> None:
        self.decided.append(decided)
        done = decided.completion
        if not done.clocks:
            return
        after = {(row.clock.policy, row.clock.cycle): row for row in self.clocks_for(done.tracker, done.ticket_id)}
        for row in done.clocks:  # stored with the next version when the batch is recorded
            after[(row.clock.policy, row.clock.cycle)] = row.with_version(row.version + 1)
        self._clocks[(done.tracker, done.ticket_id)] = sorted(after.values(), key=lambda row: row.clock.cycle)
