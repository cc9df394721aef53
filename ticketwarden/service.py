"""Wiring: one process runs the HTTP intake, the worker and the scheduler (the embedded default)."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from connector.jira import JiraConnector
from connector.notify import Notifier, channels_from_environment
from connector.redmine import RedmineConnector
from rules.cron import parse_cron
from rules.errors import RulebookInvalid
from rules.messages import Messages
from rules.rulebook import Rulebook, load_rulebook
from rules.schema import REPORT_GROUPS
from ticketwarden import migrate, sla
from ticketwarden.clock import Clock, utcnow
from ticketwarden.config import Settings
from ticketwarden.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ticketwarden.metrics import Metrics
from ticketwarden.poller import Poller
from ticketwarden.reports import PAGE_TYPES
from ticketwarden.rulefiles import RulebookHolder
from ticketwarden.store import RULEBOOK_VALUE, Store, create_db_engine, ticket_ref
from ticketwarden.surveys import Surveys
from ticketwarden.worker import Connector, RetryPolicy, Worker
from webhooks.app import AdminHooks, MetricsHooks, SurveyHooks, WebhookSettings, create_app

log = logging.getLogger(__name__)
SCHEDULE_JOB_PREFIX = "rule:"


class StoreIntake:
    """The webhooks layer's Intake, over the store."""

    def __init__(self, store: Store, clock: Clock):
        self._store = store
        self._clock = clock

    def store(self, *, source: str, shape: str, dedup_key: str, path: str,
              headers: Mapping[str, str], body: bytes, ticket_id: str = "") -> tuple[bool, int]:
        return self._store.store_delivery(source=source, shape=shape, dedup_key=dedup_key, path=path,
                                          headers=headers, body=body, now=self._clock(),
                                          ticket=ticket_ref(source, ticket_id) if ticket_id else None)


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
    _token: str = field(default_factory=lambda: uuid.uuid4().hex)  # this process's heartbeat

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
                scheduler.add_job(self.enqueue_scheduled, scheduler_trigger(cron),
                                  args=[rule.name], id=f"{SCHEDULE_JOB_PREFIX}{rule.name}:{index}",
                                  max_instances=1, coalesce=True, misfire_grace_time=3600)

    def note_rulebook(self, rulebook: Rulebook) -> None:
        """Tell `ticketwarden status` (another process) which rulebook this one has in force."""
        try:
            self.store.set_value(f"{RULEBOOK_VALUE}{self.settings.instance_name}", json.dumps(_summary(rulebook)),
                                 self.clock())
        except Exception:  # what status shows is no reason to stop the service
            log.warning("could not note the rulebook in force for `ticketwarden status`", exc_info=True)

    def take_over(self, wait: Callable[[float], None] = time.sleep) -> None:
        """Start working as this instance: refuse when a live process already has its name, else
        give back at once what an earlier run under the name held (it crashed or was killed)."""
        beat = self._heartbeat_interval()
        found = self.store.last_heartbeat()
        if found is not None and found[0] != self._token and self.clock() - found[1] < timedelta(seconds=3 * beat):
            wait(1.5 * beat)  # a live process beats meanwhile; a dead one's last beat stays as it was
            again = self.store.last_heartbeat()
            if again is not None and again != found:
                raise InstanceInUse(
                    f"another process is running as instance {self.store.owner!r} (it beat "
                    f"{(self.clock() - again[1]).total_seconds():.0f} s ago): give each process its own "
                    f"TICKETWARDEN_INSTANCE")
        released = self.store.release_claims(self.clock())
        if any(released.values()):
            log.info("instance %s: took back %d inbox item(s) and %d effect(s) an earlier run held",
                     self.store.owner, released["inbox"], released["outbox"])
        self.beat()

    def beat(self) -> None:
        """The heartbeat: this instance is alive, and keeps the claims it is working on."""
        now = self.clock()
        self.store.heartbeat(self._token, now)
        self.store.renew_claims(now, timedelta(seconds=self.settings.lease))

    def _heartbeat_interval(self) -> float:
        return max(0.5, self.settings.lease / 6)

    def start_background(self) -> BackgroundScheduler:
        """Start the worker thread and the scheduler (heartbeat, poller, rule-file watch,
        scheduled rules), having taken over this instance's name (see `take_over`)."""
        self.take_over()
        threading.Thread(target=self.work_loop, name="ticketwarden-worker", daemon=True).start()
        scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler = scheduler
        scheduler.add_job(self._beat_safely, "interval", seconds=self._heartbeat_interval(), id="heartbeat",
                          max_instances=1, coalesce=True)
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

    def _beat_safely(self) -> None:
        try:
            self.beat()
        except Exception:  # the next beat tries again; claims lapse only after a whole lease
            log.warning("heartbeat failed", exc_info=True)

    def stop(self, timeout: float = 7.0) -> bool:
        """Stop taking work; wait up to `timeout` for the effects being written, then give back
        what is still held, so another process (or the next start) takes it at once. False
        when writes were still in flight (the caller exits without waiting for them: a retry
        finds what they wrote and does not write it twice)."""
        if self._stop.is_set():
            return True
        self._stop.set()
        finished = self.worker.close(timeout=timeout)
        try:
            released = self.store.release_claims(self.clock())
        except Exception:  # noqa: BLE001 - the store is down: the claims lapse after one lease instead
            log.warning("could not give back this instance's claims; they lapse after %.0f s", self.settings.lease)
            return finished
        if not finished or any(released.values()):
            log.warning("stopped with work in flight: %d inbox item(s) and %d effect(s) given back",
                        released["inbox"], released["outbox"])
        return finished


def _summary(rulebook: Rulebook) -> dict[str, Any]:
    """What a validation or reload answers about a rulebook that loads, warnings included."""
    return {"version": rulebook.version, "rules": len(rulebook.rules), "files": list(rulebook.files),
            "warnings": [str(warning) for warning in rulebook.warnings]}


class NotMigrated(RuntimeError):
    pass


class InstanceInUse(RuntimeError):
    """A live process already works under this instance name."""


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
    store = Store(engine, owner=settings.instance_name)
    channels = channels_from_environment(os.environ if environ is None else environ)
    rules = RulebookHolder(settings.rules, channels=list(channels))
    rules.reload()
    if connectors is None:
        connectors = tracker_connectors(settings)
    retry = RetryPolicy(max_attempts=settings.outbox_max_attempts)
    locale = rules.current.locale if rules.current else "en"
    surveys = Surveys(store, clock, settings.effective_public_url, locale,
                      lambda: rules.current.messages if rules.current else Messages())
    metrics = Metrics(store, clock)
    worker = Worker(store, connectors, rules, clock=clock, retry=retry,
                    notifier=Notifier(channels, timeout=settings.tracker_timeout), surveys=surveys,
                    concurrency=settings.apply_concurrency, lease=timedelta(seconds=settings.lease),
                    metrics=metrics)
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
                                settings.admin_token, settings.jira_webhook_secret, settings.reports_token,
                                settings.webhook_rate, settings.webhook_burst),
        readiness=application.readiness,
        metrics=MetricsHooks(render=lambda: (METRICS_CONTENT_TYPE, metrics.render()), delivery=metrics.delivery),
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


def serve(settings: Settings, work: bool = True) -> None:
    """Serve the webhooks until SIGINT/SIGTERM, and with `work` also process what arrives
    (the embedded default: one process does everything); SIGHUP reloads the rules."""
    from waitress.server import create_server

    application = _started(settings)
    host, port = settings.host_port
    server = create_server(application.app, host=host, port=port, threads=8, ident="ticketwarden")
    scheduler = application.start_background() if work else None

    def shutdown(*_: Any) -> None:
        # waitress's loop ends on SystemExit (and then finishes its running requests); closing
        # its socket alone would leave it serving open keep-alive connections.
        log.info("stopping")
        raise SystemExit(0)

    _on_signals(application, shutdown)
    log.info("ticketwarden listening on http://%s:%d (webhooks: POST /webhooks/redmine, /webhooks/jira)%s",
             host, port, "" if work else "; processing is left to `ticketwarden worker`")
    try:
        server.run()
    finally:
        finished = application.stop() if work else True
        server.close()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        _gone(finished)


def run_worker(settings: Settings) -> None:
    """Process the inbox and outbox, sweep the SLA clocks, poll and fire scheduled rules, with
    no HTTP server, until SIGINT/SIGTERM: any number of these beside `serve --http-only`
    processes, on one or many machines sharing one PostgreSQL (or on one machine sharing its
    SQLite file: `store.WriterLock`)."""
    application = _started(settings)
    stopping = threading.Event()
    _on_signals(application, lambda *_: stopping.set())
    scheduler = application.start_background()
    log.info("ticketwarden worker %s started", settings.instance_name)
    try:
        while not stopping.wait(0.5):
            pass
        log.info("stopping")
    finally:
        finished = application.stop()
        scheduler.shutdown(wait=False)
        _gone(finished)


def _gone(finished: bool) -> None:
    """The end of a process: at once, even while a tracker still holds a write (its claim is
    given back already; the write's retry checks the tracker first)."""
    log.info("stopped")
    if not finished:
        logging.shutdown()
        os._exit(0)


def _started(settings: Settings) -> Application:
    application = build(settings)
    if application.rules.current is None:
        raise SystemExit("the rulebook does not validate; fix it (see `ticketwarden check`) and start again")
    if not application.connectors:
        log.warning("no tracker configured (set REDMINE_URL and REDMINE_API_KEY, or JIRA_URL and its "
                    "credentials): deliveries are stored but wait for a tracker")
    settle_memory()
    return application


def settle_memory() -> None:
    """Once the process has started: collect what starting left behind, then leave everything
    that lives on (libraries, the compiled rulebook, SQLAlchemy's tables and statements) out of
    the cycle collector's full passes, which would otherwise walk all of it again every few
    hundred events: a tenth of the worker's CPU time in the end-to-end benchmark. Objects made
    later are collected as before."""
    gc.collect()
    gc.freeze()


def _on_signals(application: Application, shutdown: Callable[..., None]) -> None:
    def reload_rules(*_: Any) -> None:
        application.rules.reload()

    signal.signal(signal.SIGHUP, reload_rules)
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)


def scheduler_trigger(schedule: str) -> CronTrigger | OrTrigger:
    """The scheduler's trigger for a rule's cron schedule, as crontab reads it (Sunday is 0 or
    7; a restricted day of month and weekday fire on either)."""
    triggers = [CronTrigger(**fields, timezone="UTC") for fields in parse_cron(schedule).scheduler_fields()]
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)
