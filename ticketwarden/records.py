"""Records: the issues ticketwarden creates for a cause (a development issue for an escalated
ticket, a nonconformity or an observation), created once, linked, and followed afterwards.

Creation is exactly once per cause, across retries, replays and processes: the store holds
the cause's record (claimed by one effect at a time, with a lease), and the issue carries a
marker the connector looks for before creating, so an issue created just before a crash is
found instead of duplicated. The other steps (link, notes, status) are each idempotent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from connector.errors import Created, TrackerError
from rules.actions.escalate import DEVELOPMENT_KEY, DEVELOPMENT_URL
from rules.actions.nonconformity import RECORD_KEY, RECORD_URL
from rules.model import Effect, Event, Ticket
from rules.records import OVERDUE, REMINDER, TRIGGER_OF, due_markers, next_check, record_outcome, reminders
from ticketwarden.clock import Clock
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import FollowUp, RecordRow, Store, ticket_ref

log = logging.getLogger(__name__)
SOURCE = "related"  # inbox source of events about related issues (development issues, records)
DEVELOPMENT = "development"


class RecordConnector(Protocol):
    kind: str

    def apply(self, effect: Effect, first_attempt: bool) -> str: ...

    def create_issue(self, marker: str, project: str, issue_type: str, summary: str, description: str = "",
                     fields: dict[str, Any] | None = None, assignee: str | None = None,
                     due_date: str | None = None) -> Created: ...


def marker(tracker: str, kind: str, cause: str) -> str:
    """A short, stable token naming a cause on a tracker (what the created issue carries)."""
    return "tw" + hashlib.sha256(f"{tracker}\x1f{kind}\x1f{cause}".encode()).hexdigest()[:20]


class RecordKeeper:
    """Applies `escalate` and `nonconformity` effects, and turns changes of the issues it
    created into events for the tickets they came from."""

    def __init__(self, store: Store, clock: Clock, lease: timedelta = timedelta(minutes=5),
                 settle: timedelta = timedelta(seconds=30), rules: RulebookHolder | None = None):
        """`settle`: how long a retry of a creation whose answer was lost waits before looking
        for the marker (Jira Cloud's search shows a new issue only after a few seconds).
        `rules`: the rulebook in force, whose `messages` and `locale` wrote the records'
        skeletons and so read them back when they close."""
        self.store = store
        self.rules = rules
        self.clock = clock
        self.lease = lease
        self.settle = settle

    # -- creating --------------------------------------------------------------------------------

    def apply(self, effect: Effect, connector: RecordConnector, first_attempt: bool) -> str:
        if effect.action == "escalate":
            return self._escalate(effect, connector, first_attempt)
        return self._record(effect, connector, first_attempt)

    def _claim_and_create(self, effect: Effect, connector: RecordConnector, first_attempt: bool, kind: str, cause: str,
                          sources: list[str], detail: Mapping[str, Any], create: Mapping[str, Any],
                          action_due: datetime | None = None, review_due: datetime | None = None) -> RecordRow:
        now = self.clock()
        record, mine = self.store.claim_record(
            tracker=effect.tracker_kind, kind=kind, cause=cause, effect_key=effect.key, sources=sources,
            detail=detail, action_due=action_due, review_due=review_due, now=now, lease=self.lease)
        if record.target_id is not None:
            return record
        if not mine:
            raise TrackerError(f"the {kind} issue for {cause!r} is being created by another worker; "
                               f"trying again once it is there", transient=True)
        if not first_attempt and record.created_by == effect.key and now - record.created_at < self.settle:
            raise TrackerError(f"an earlier attempt may have created the {kind} issue for {cause!r}; looking for "
                               f"it once the tracker's search has caught up", transient=True)
        created = connector.create_issue(marker(effect.tracker_kind, kind, cause), **create)
        owed = _owed(record, record.action_due)
        row = self.store.record_created(record.id, target_id=created.id, target_key=created.key,
                                        target_url=created.url, next_check=next_check(owed, ()), now=self.clock())
        log.info("%s %s %s for cause %r (%s)", "created" if created.new else "found", kind, created.key, cause,
                 effect.rule)
        return row

    def _escalate(self, effect: Effect, connector: RecordConnector, first_attempt: bool) -> str:
        params = effect.params
        record = self._claim_and_create(
            effect, connector, first_attempt, DEVELOPMENT, effect.ticket_id, [effect.ticket_id],
            {"resolved_statuses": params.get("resolved_statuses", []), "rule": effect.rule, "source": params["source"]},
            {"project": params["project"], "issue_type": params["tracker"], "summary": params["subject"],
             "description": params["description"], "fields": dict(params.get("fields") or {}),
             "assignee": params.get("assign")})
        key, url = str(record.target_key), str(record.target_url)
        step = _Steps(effect, connector, first_attempt)
        if record.created_by != effect.key:  # escalated before: tell the development issue
            step.run("comment", str(record.target_id), {"body": params["again_note"], "private": False})
            step.run("link", effect.ticket_id, {"to": key, "relation": params.get("relation", "relates")})
            return f"already escalated to {key}: noted there"
        step.run("link", effect.ticket_id, {"to": key, "relation": params.get("relation", "relates")})
        note = str(params.get("note") or "").replace(DEVELOPMENT_KEY, key).replace(DEVELOPMENT_URL, url)
        if note:
            step.run("comment", effect.ticket_id, {"body": note, "private": bool(params.get("private", True))})
        if params.get("waiting_status"):
            step.run("transition", effect.ticket_id, {"status": params["waiting_status"]})
        return f"escalated to {key}"

    def _record(self, effect: Effect, connector: RecordConnector, first_attempt: bool) -> str:
        params = effect.params
        kind, cause = str(params["kind"]), str(params["cause"])
        sources = [dict(source) for source in params.get("sources", [])]
        record = self._claim_and_create(
            effect, connector, first_attempt, kind, cause, [s["id"] for s in sources],
            {**dict(params.get("record") or {}), "remind_before": params.get("remind_before") or 0,
             "rule": effect.rule},
            {"project": params["project"], "issue_type": params["tracker"], "summary": params["subject"],
             "description": params["description"], "fields": dict(params.get("fields") or {}),
             "assignee": params.get("owner"), "due_date": str(params.get("action_due") or "")[:10] or None},
            _moment(params.get("action_due")), _moment(params.get("review_due")))
        key, url = str(record.target_key), str(record.target_url)
        step = _Steps(effect, connector, first_attempt)
        added = 0
        creator = record.created_by == effect.key
        for source in sources:
            new_source = source["id"] not in record.sources
            if not (new_source or creator):
                continue  # linked and told when it first came
            if new_source:
                step.run("comment", str(record.target_id), {"body": params["another_notes"][source["id"]],
                                                            "private": False}, tag=source["id"])
            step.run("link", source["id"], {"to": key, "relation": params.get("relation", "relates")},
                     tag=source["id"])
            note = str(params.get("note") or "").replace(RECORD_KEY, key).replace(RECORD_URL, url)
            if note:
                step.run("comment", source["id"], {"body": note, "private": bool(params.get("private", True))},
                         tag=source["id"])
            if new_source:
                self.store.add_record_source(record.id, source["id"], self.clock())
                added += 1
        if creator:
            linked = f", {len(sources)} ticket(s) linked" if sources else ""
            return f"{kind} {key} opened for cause {cause!r}{linked}"
        return f"{kind} {key} exists for cause {cause!r}: {added} more ticket(s) linked"

    # -- following -------------------------------------------------------------------------------

    def on_event(self, event: Event, ticket: Ticket, targeting: list[RecordRow]) -> list[FollowUp]:
        """Events for the tickets a changed development issue came from; a record's closing or
        reopening stops or resumes its reminders. `targeting`: the records whose issue this
        ticket is (the worker reads them for its whole batch at once)."""
        change = event.change_of("status")
        moved = event.change_of("due_date")
        if change is None and moved is None:
            return []
        follow_ups = []
        for record in targeting:
            if record.kind != DEVELOPMENT:
                if moved is not None:
                    self._follow_due_date(record, moved.new)
                if change is not None:
                    self._follow_record_state(record, ticket)
                continue
            if change is None:
                continue
            resolved_names = {str(s).casefold() for s in record.detail.get("resolved_statuses", [])}
            resolved = ticket.is_closed or (change.new or "").casefold() in resolved_names
            resolution = event.change_of("resolution")
            facts = {"key": ticket.key, "url": ticket.url, "status": change.new or "",
                     "previous_status": change.old or "", "resolved": "yes" if resolved else "no",
                     "resolution": (resolution.new if resolution else None) or ""}
            triggers = ["development.updated"] + (["development.resolved"] if resolved else [])
            for source in record.sources:
                follow_ups.append(FollowUp(SOURCE, f"development:{ticket.tracker_kind}:{source}:{event.id}", {
                    "related": {"tracker": ticket.tracker_kind, "ticket_id": source, "triggers": triggers,
                                "at": event.occurred_at.isoformat(), "facts": {"development": facts}}},
                    ticket_ref(ticket.tracker_kind, source)))
        return follow_ups

    def _follow_due_date(self, record: RecordRow, new: str | None) -> None:
        """People moved the corrective action's due date in the tracker: the reminders follow it
        (a later date owes the reminder and the overdue note again)."""
        try:
            due = datetime.fromisoformat(new[:10]).replace(tzinfo=UTC) + timedelta(hours=12) if new else None
        except ValueError:
            return
        if due == record.action_due:
            return
        now = self.clock()
        fired = [m for m in record.fired if m not in (REMINDER, OVERDUE) or due is None or due <= now]
        owed = _owed(record, due)
        self.store.record_due(record, due, fired, next_check(owed, fired) if record.state == "open" else None, now)
        log.info("%s %s: corrective action now due %s", record.kind, record.target_key, due.date() if due else "-")

    def _follow_record_state(self, record: RecordRow, ticket: Ticket) -> None:
        now = self.clock()
        if ticket.is_closed and record.state != "closed":
            # what people wrote in it (root cause, actions, result) goes to the lessons learned
            outcome = self._outcome(ticket.description) if record.kind != DEVELOPMENT else {}
            self.store.record_state(record.id, "closed", None, now, outcome=outcome or None)
        elif not ticket.is_closed and record.state == "closed":
            owed = _owed(record, record.action_due)
            self.store.record_state(record.id, "open", next_check(owed, record.fired), now)

    def _outcome(self, description: str) -> dict[str, str]:
        """What people wrote in a record's skeleton, read with the headings that wrote it."""
        rulebook = self.rules.current if self.rules is not None else None
        if rulebook is None:
            return record_outcome(description)
        return record_outcome(description, rulebook.messages, rulebook.locale)

    def sweep(self) -> int:
        """Queue the reminders that have come due on open records; returns how many."""
        now = self.clock()
        queued = 0
        for record in self.store.due_records(now):
            if record.state != "open" or record.target_id is None:
                self.store.fire_record(record, record.fired, None, [], now)
                continue
            owed = _owed(record, record.action_due)
            markers = due_markers(owed, record.fired, now)
            fired = (*record.fired, *markers)
            moments = dict(owed)
            follow_ups = [FollowUp(SOURCE, f"record:{record.tracker}:{record.id}:{marker_}", {
                "related": {"tracker": record.tracker, "ticket_id": record.target_id,
                            "triggers": [TRIGGER_OF[marker_]], "at": moments[marker_].isoformat(),
                            "facts": {"record": self._facts(record, marker_)}}},
                ticket_ref(record.tracker, record.target_id)) for marker_ in markers]
            if self.store.fire_record(record, fired, next_check(owed, fired), follow_ups, now):
                queued += len(follow_ups)
        return queued

    @staticmethod
    def _facts(record: RecordRow, reminder: str) -> dict[str, str]:
        return {"kind": record.kind, "cause": record.cause, "key": record.target_key or "",
                "url": record.target_url or "", "owner": str(record.detail.get("owner") or ""),
                "action_due": record.action_due.isoformat() if record.action_due else "",
                "review_due": record.review_due.isoformat() if record.review_due else "", "reminder": reminder}


class _Steps:
    """The sub-steps of one effect, each applied through the connector's own (idempotent) code.
    A retry of the effect re-runs them all with `first_attempt` false, so notes written by an
    earlier attempt are found instead of written twice."""

    def __init__(self, effect: Effect, connector: RecordConnector, first_attempt: bool):
        self.effect, self.connector, self.first_attempt = effect, connector, first_attempt

    def run(self, action: str, ticket_id: str, params: Mapping[str, Any], tag: str = "") -> str:
        sub = Effect(f"{self.effect.key}:{action}:{tag}", action, self.effect.tracker_kind, ticket_id,
                     self.effect.rule, params)
        return self.connector.apply(sub, self.first_attempt)


def _owed(record: RecordRow, action_due: datetime | None) -> list[tuple[str, datetime]]:
    """The moments a record's reminders are owed, its corrective action being due at `action_due`."""
    remind = float(record.detail.get("remind_before") or 0)
    return reminders(action_due, record.review_due, timedelta(seconds=remind) if remind else None)


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None
