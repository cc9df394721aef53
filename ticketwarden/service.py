"""Wiring: one process runs the HTTP intake, the worker and the scheduler (the embedded default)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from connector.jira import JiraConnector
from connector.notify import Notifier, channels_from_environment
from connector.redmine import RedmineConnector
from rules.errors import RulebookInvalid
from rules.messages import Messages
from rules.rulebook import Rulebook, load_rulebook
from rules.schema import REPORT_GROUPS
from ticketwarden import migrate, sla
from ticketwarden.clock import Clock, utcnow
from ticketwarden.config import Settings
from ticketwarden.poller import Poller
from ticketwarden.reports import PAGE_TYPES
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import Store, create_db_engine
from ticketwarden.surveys import Surveys
from ticketwarden.worker import Connector, RetryPolicy, Worker
from webhooks.app import AdminHooks, SurveyHooks, WebhookSettings, create_app

log = logging.getLogger(__name__)
SCHEDULE_JOB_PREFIX = "rule:"
RULEBOOK_VALUE = "rulebook:"  # + instance name: the rulebook a process has in force (ticketwarden status)


class StoreIntake:
    """The webhooks layer's Intake, over the store."""

    def __init__(self, store: Store, clock: Clock):
        self._store = store
        self._clock = clock

    def store(self, *, source: str, shape: str, dedup_key: str, path: str,
              headers: Mapping[str, str], body: bytes) -> tuple[bool, int]:
        return self._store.store_delivery(source=source, shape=shape, dedup_key=dedup_key, path=path,
                                          headers=headers, body=body, now=self._clock())


@dataclass
class Application:
    settings: Settings
    store: Store
    rules: RulebookHolder
    connectors: dict[str, Connector]
    worker: Worker
    pollers: list[Poller]
    app: Flask
    clock: Clock = utcnow
    channels: dict[str, str] = field(default_factory=dict)
    scheduler: BackgroundScheduler | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        store_ok = self.store.ping()
        rules_ok = self.rules.current is not None
        details: dict[str, Any] = {"checks": {"store": store_ok, "rules": rules_ok}}
        if self.rules.current is not None:
            details["rulebook"] = self.rules.current.version
            if self.rules.current.warnings:
                details["rule_warnings"] = [str(warning) for warning in self.rules.current.warnings]
        if self.rules.last_errors:
            details["rule_errors"] = [str(error) for error in self.rules.last_errors]
        return store_ok and rules_ok, details

    # -- admin ---------------------------------------------------------------------------------

    def validate_sources(self, sources: list[tuple[str, str]]) -> tuple[list[str], dict[str, Any]]:
        try:
            rulebook = load_rulebook(sources, channels=list(self.channels))
        except RulebookInvalid as exc:
            return [str(error) for error in exc.errors], {}
        return [], _summary(rulebook)

    def report(self, since: str | None, until: str | None, by: str | None, fmt: str) -> tuple[str, str]:
        """The reports page: (content type, body). ValueError names a bad parameter."""
        from ticketwarden import reports

        rulebook = self.rules.current
        if rulebook is None:
            raise ValueError("no valid rulebook is loaded")
        if fmt not in PAGE_TYPES:
            raise ValueError(f"format must be {', '.join(PAGE_TYPES)}; got {fmt!r}")
        if by and by not in REPORT_GROUPS:
            raise ValueError(f"by must be {', '.join(REPORT_GROUPS)}; got {by!r}")
        now = self.clock()
        start, end = reports.period(_day(since, "from"), _day(until, "to"), now)
        report = reports.gather(self.store, rulebook, start, end, by or None, now)
        return PAGE_TYPES[fmt], reports.render(report, fmt, rulebook.locale, rulebook.messages)

    def reload_rules(self) -> tuple[list[str], dict[str, Any]]:
        errors = [str(error) for error in self.rules.reload()]
        current = self.rules.current
        return errors, ({"in_force": _summary(current)} if current else {})

    # -- background work ---------------------------------------------------------------------

    def work_loop(self) -> None:
        """Drain inbox and outbox until stopped; sleep briefly when both are empty."""
        while not self._stop.is_set():
            busy = 0
            try:
                busy += self.worker.process_inbox()
                busy += self.worker.apply_outbox(wait=False)  # written on the pool meanwhile
            except Exception:
                log.exception("worker pass failed; retrying")
                self._stop.wait(self.settings.worker_interval * 5)
                continue
            if not busy:
                self._stop.wait(self.settings.worker_interval)

    def poll_all(self) -> None:
        for poller in self.pollers:
            try:
                poller.poll_once()
            except Exception as exc:  # noqa: BLE001 - the next pass heals what this one missed
                log.warning("poller %s failed: %s", poller.connector.kind, exc)

    def sweep_sla(self) -> int:
        """Queue the SLA warnings and breaches, and the records' reminders, that have come due
        (also those owed while the service was down)."""
        queued = 0
        try:
            queued += self.worker.records.sweep()
        except Exception:
            log.exception("record reminder sweep failed")
        rulebook = self.rules.current
        if rulebook is None or not rulebook.sla:
            return queued
        try:
            return queued + sla.sweep(self.worker._sla_book(rulebook), self.store, self.clock)
        except Exception:
            log.exception("SLA sweep failed")
            return queued

    def enqueue_scheduled(self, rule: str, fired_at: datetime | None = None) -> bool:
        """Put one firing of a scheduled rule into the inbox (once, whichever process fires)."""
        at = (fired_at or self.clock()).replace(second=0, microsecond=0)
        new, _ = self.store.store_delivery(
            source="schedule", shape="schedule", dedup_key=f"schedule:{rule}:{at.isoformat()}",
            path="(schedule)", headers={}, body=json.dumps({"schedule": {"rule": rule, "at": at.isoformat()}}),
            now=self.clock())
        return new

    def sync_schedules(self, rulebook: Rulebook) -> None:
        """One cron job per scheduled rule of the rulebook in force."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        for job in scheduler.get_jobs():
            if job.id.startswith(SCHEDULE_JOB_PREFIX):
                job.remove()
        for rule in rulebook.rules:
            for index, cron in enumerate(rule.schedules):
                scheduler.add_job(self.enqueue_scheduled, CronTrigger.from_crontab(cron, timezone="UTC"),
                                  args=[rule.name], id=f"{SCHEDULE_JOB_PREFIX}{rule.name}:{index}",
                                  max_instances=1, coalesce=True, misfire_grace_time=3600)

    def note_rulebook(self, rulebook: Rulebook) -> None:
        """Tell `ticketwarden status` (another process) which rulebook this one has in force."""
        try:
            self.store.set_value(f"{RULEBOOK_VALUE}{self.settings.instance_name}", json.dumps(_summary(rulebook)),
                                 self.clock())
        except Exception:  # what status shows is no reason to stop the service
            log.warning("could not note the rulebook in force for `ticketwarden status`", exc_info=True)

    def start_background(self) -> BackgroundScheduler:
        """Start the worker thread and the scheduler (poller, rule-file watch, scheduled rules)."""
        threading.Thread(target=self.work_loop, name="ticketwarden-worker", daemon=True).start()
        scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler = scheduler
        # Jobs are scheduled on the wall clock; the application clock (tests move it) is only
        # what the work itself is told the time is.
        if self.pollers:
            scheduler.add_job(self.poll_all, "interval", seconds=self.settings.poll_interval,
                              id="poll", max_instances=1, coalesce=True, next_run_time=utcnow())
        scheduler.add_job(self.sweep_sla, "interval", seconds=self.settings.sla_sweep_interval, id="sla-sweep",
                          max_instances=1, coalesce=True, next_run_time=utcnow())
        if self.settings.rules_watch_interval > 0:
            scheduler.add_job(self.rules.reload_if_changed, "interval", seconds=self.settings.rules_watch_interval,
                              id="rules-watch", max_instances=1, coalesce=True)
        self.rules.listeners.extend([self.sync_schedules, self.note_rulebook])
        if self.rules.current is not None:
            self.sync_schedules(self.rules.current)
            self.note_rulebook(self.rules.current)
        scheduler.start()
        return scheduler

    def stop(self) -> None:
        self._stop.set()
        if not self.worker.close(timeout=10):
            log.warning("stopped with effects still being written: their claims lapse and they are retried")


def _summary(rulebook: Rulebook) -> dict[str, Any]:
    """What a validation or reload answers about a rulebook that loads, warnings included."""
    return {"version": rulebook.version, "rules": len(rulebook.rules), "files": list(rulebook.files),
            "warnings": [str(warning) for warning in rulebook.warnings]}


class NotMigrated(RuntimeError):
    pass


def tracker_connectors(settings: Settings) -> dict[str, Connector]:
    """A connector for each tracker the settings configure."""
    connectors: dict[str, Connector] = {}
    if settings.redmine_url:
        connectors["redmine"] = RedmineConnector(settings.redmine_url, settings.redmine_api_key,
                                                 timeout=settings.tracker_timeout, rate=settings.redmine_rate)
    if settings.jira_url:
        connectors["jira"] = JiraConnector(
            settings.jira_url, user=settings.jira_user, api_token=settings.jira_api_token,
            personal_token=settings.jira_personal_token, timeout=settings.tracker_timeout,
            private_visibility=settings.jira_private_visibility, rate=settings.jira_rate)
    return connectors


def build(settings: Settings, *, clock: Clock = utcnow, connectors: dict[str, Connector] | None = None,
          check_schema: bool = True, environ: Mapping[str, str] | None = None) -> Application:
    """Assemble the application from settings. Raises NotMigrated when the schema is behind."""
    engine = create_db_engine(settings.effective_database_url)
    if check_schema:
        current, head = migrate.current_revision(engine), migrate.head_revision()
        if current != head:
            raise NotMigrated(f"database schema is at {current or 'nothing'}, expected {head}: "
                              f"run `ticketwarden migrate`")
    store = Store(engine)
    channels = channels_from_environment(os.environ if environ is None else environ)
    rules = RulebookHolder(settings.rules, channels=list(channels))
    rules.reload()
    if connectors is None:
        connectors = tracker_connectors(settings)
    retry = RetryPolicy(max_attempts=settings.outbox_max_attempts)
    locale = rules.current.locale if rules.current else "en"
    surveys = Surveys(store, clock, settings.effective_public_url, locale,
                      lambda: rules.current.messages if rules.current else Messages())
    worker = Worker(store, connectors, rules, clock=clock, retry=retry,
                    notifier=Notifier(channels, timeout=settings.tracker_timeout), surveys=surveys,
                    concurrency=settings.apply_concurrency)
    pollers = [Poller(store, connector, clock=clock,  # type: ignore[arg-type]
                      overlap=timedelta(seconds=settings.poll_overlap),
                      lookback=timedelta(seconds=settings.poll_lookback))
               for connector in connectors.values() if hasattr(connector, "poll")]
    def recalculate(rulebook: Rulebook) -> None:
        """A changed policy or calendar recalculates the open clocks from their history."""
        if rulebook.sla:
            changed = sla.recalc(worker._sla_book(rulebook), store, clock(), apply=True)
            for line in changed:
                log.info("SLA recalculated: %s", line)

    rules.listeners.append(recalculate)
    intake = StoreIntake(store, clock)
    application = Application(settings, store, rules, connectors, worker, pollers,
                              app=Flask("placeholder"), clock=clock, channels=channels)
    application.app = create_app(
        intake, WebhookSettings(settings.webhook_token, settings.redmine_webhook_secret, settings.max_body,
                                settings.admin_token, settings.jira_webhook_secret, settings.reports_token),
        readiness=application.readiness,
        admin=AdminHooks(validate=application.validate_sources, reload=application.reload_rules,
                         report=application.report),
        survey=SurveyHooks(page=surveys.page, answer=surveys.answer))
    return application


def _day(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{name} must be a date such as 2026-03-01; got {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def serve(settings: Settings) -> None:
    """Run everything in this process until SIGINT/SIGTERM; SIGHUP reloads the rules."""
    from waitress.server import create_server

    application = build(settings)
    if application.rules.current is None:
        raise SystemExit("the rulebook does not validate; fix it (see `ticketwarden check`) and start again")
    if not application.connectors:
        log.warning("no tracker configured (set REDMINE_URL and REDMINE_API_KEY, or JIRA_URL and its "
                    "credentials): deliveries are stored but wait for a tracker")
    host, port = settings.host_port
    server = create_server(application.app, host=host, port=port, threads=8, ident="ticketwarden")
    scheduler = application.start_background()

    def reload_rules(*_: Any) -> None:
        application.rules.reload()

    def shutdown(*_: Any) -> None:
        # waitress's loop ends on SystemExit (and then finishes its running requests); closing
        # its socket alone would leave it serving open keep-alive connections.
        log.info("stopping")
        application.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGHUP, reload_rules)
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("ticketwarden listening on http://%s:%d (webhooks: POST /webhooks/redmine, /webhooks/jira)", host, port)
    try:
        server.run()
    finally:
        application.stop()
        server.close()
        scheduler.shutdown(wait=False)
        log.info("stopped")
