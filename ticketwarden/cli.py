"""The `ticketwarden` command."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from rules.errors import RulebookInvalid
from rules.schema import REPORT_GROUPS
from ticketwarden import __version__
from ticketwarden.config import ConfigError, Settings, from_environment
from ticketwarden.reports import FORMATS
from ticketwarden.rulefiles import load_paths, rule_files

if TYPE_CHECKING:  # imported lazily at run time: each command loads only what it uses
    from ticketwarden.explain import TicketRef
    from ticketwarden.sla import SlaBook
    from ticketwarden.store import Store


def _settings(**overrides: Any) -> Settings:
    try:
        return from_environment().with_overrides(**overrides)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", envvar="TICKETWARDEN_LOG_FORMAT", default="text", show_default=True,
              type=click.Choice(["text", "json"]),
              help="json: one JSON object per line, with event, ticket and rule ids [env TICKETWARDEN_LOG_FORMAT]")
def main(log_level: str, log_format: str) -> None:
    """ticketwarden: SLA, failure origin, escalation and nonconformities on your tracker."""
    import os

    from ticketwarden import logs

    logs.configure(log_level, log_format, logs.secrets_of(os.environ))
    for noisy in ("apscheduler", "alembic.runtime.plugins", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"ticketwarden {__version__}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--graph", is_flag=True, help="Also print which rules can trigger which, by the changes they make.")
@click.option("--format", "graph_format", type=click.Choice(["text", "dot"]), default=None,
              help="How --graph prints: text (the default), or Graphviz dot alone on stdout (the rest on stderr).")
def check(paths: tuple[str, ...], graph: bool, graph_format: str | None) -> None:
    """Validate rule files or directories: SUCCESS / FAILED per file, exit 1 on any error.

    A directory is one rulebook (names are shared across its files). Rules that can undo each
    other's changes forever are an error when that is certain, a warning when it may happen.
    """
    import os
    from functools import partial

    from connector.notify import channels_from_environment
    from rules.interactions import format_dot, format_text, graph_of

    # What depends on the environment (channels) is checked against this one, as warnings.
    channels = list(channels_from_environment(os.environ))
    if graph_format and not graph:
        raise click.UsageError("--format says how --graph prints: add --graph")
    say = partial(click.echo, err=graph_format == "dot")  # dot alone on stdout, for `| dot -Tsvg`
    failed = False
    for path in paths:
        try:
            rulebook = load_paths([path], channels=channels, environment_errors=False)
        except RulebookInvalid as exc:
            failed = True
            say(f"FAILED {path}: {len(exc.errors)} error(s)")
            for error in exc.errors:
                say(f"  {error}")
            continue
        files = ", ".join(str(p) for p in rule_files([path]))
        say(f"SUCCESS {path}: {len(rulebook.rules)} rule(s) in {files}")
        for warning in rulebook.warnings:
            say(f"  warning: {warning}")
        if graph:
            click.echo((format_dot if graph_format == "dot" else format_text)(graph_of(rulebook)))
    sys.exit(1 if failed else 0)


def _store(database_url: str | None) -> Store:
    from ticketwarden.store import Store, create_db_engine

    return Store(create_db_engine(_settings(database_url=database_url).effective_database_url))


_TRACKER_OPTION = click.option(
    "--tracker", type=click.Choice(["redmine", "jira"]), default=None,
    help="Which tracker TICKET is on, when a bare number could be either (a Redmine #id or a Jira issue id).")


def _ticket(store: Store, ticket: str, tracker: str | None) -> TicketRef:
    """The stored ticket TICKET names, or a usage error saying why none (or several) match."""
    from ticketwarden.explain import TicketNotFound, resolve_ticket

    try:
        return resolve_ticket(store, ticket, tracker)
    except TicketNotFound as exc:
        raise click.UsageError(str(exc)) from exc


@main.command()
@click.argument("ticket")
@click.option("--last", default=5, show_default=True, help="How many of the latest decisions to show.")
@click.option("-v", "--verbose", is_flag=True, help="Also list rules the event did not trigger.")
@_TRACKER_OPTION
@click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
              help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")
def explain(ticket: str, last: int, verbose: bool, tracker: str | None, database_url: str | None) -> None:
    """Why ticketwarden did what it did to TICKET (a Redmine id, 42 or #42, or a Jira key,
    SUP-42): each rule, each condition with the values compared, each action and whether it
    was written."""
    from ticketwarden.explain import explain as explain_ticket

    store = _store(database_url)
    for line in explain_ticket(store, _ticket(store, ticket, tracker), last, verbose):
        click.echo(line)


@main.command()
@click.argument("ticket", required=False)
@click.option("--kind", type=click.Choice(["development", "nonconformity", "observation"]), default=None,
              help="Only records of this kind.")
@click.option("--open", "open_only", is_flag=True, help="Only records whose issue is still open.")
@_TRACKER_OPTION
@click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
              help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")
def records(ticket: str | None, kind: str | None, open_only: bool, tracker: str | None,
            database_url: str | None) -> None:
    """The issues ticketwarden created: development issues, nonconformities and observations,
    one per cause, with their source tickets and the dates their reminders watch. With TICKET
    (42, #42 or SUP-42): only those it led to or is."""
    from ticketwarden.explain import record_lines, records_of

    store = _store(database_url)
    found = store.all_records(kind)
    if ticket is not None:
        found = records_of(found, _ticket(store, ticket, tracker))
    lines = record_lines(found, open_only)
    for line in lines or ["no records"]:
        click.echo(line)


_NEEDS = {"redmine": "replay reads status and tracker names from Redmine: set REDMINE_URL and REDMINE_API_KEY",
          "jira": "replay reads field names from Jira: set JIRA_URL and JIRA_USER + JIRA_API_TOKEN "
                  "(or JIRA_PERSONAL_TOKEN)"}


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--rules", "rules", multiple=True, required=True, type=click.Path(exists=True),
              help="The rulebook to replay with (file or directory, repeatable).")
@click.option("--from", "since", type=click.DateTime(), default=None, help="Stored events received from (UTC).")
@click.option("--to", "until", type=click.DateTime(), default=None, help="... up to, not including (UTC).")
@click.option("--tracker", type=click.Choice(["redmine", "jira"]), default=None,
              help="Only the stored events of this tracker [default: both].")
@click.option("--offline", is_flag=True,
              help="Read nothing from any tracker: each delivery's own snapshot is used, and one that lacks "
                   "what is needed (a name behind an id) is reported instead.")
@click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
              help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")
def replay(files: tuple[str, ...], rules: tuple[str, ...], since: Any, until: Any, tracker: str | None,
           offline: bool, database_url: str | None) -> None:
    """Run recorded Redmine or Jira payload FILES, or the stored events between --from and --to,
    through a rulebook without writing anything; stored events show the effects produced then
    (=), those the rulebook would add (+) and those it would no longer produce (-).

    Reads the names behind ids from the tracker (REDMINE_URL / REDMINE_API_KEY, JIRA_URL and
    its credentials), unless --offline. Exit 1 when a delivery could not be replayed offline.
    """
    from datetime import UTC

    from connector.errors import TrackerError
    from ticketwarden.inspect import NotADelivery
    from ticketwarden.replay import file_items, stored_items
    from ticketwarden.replay import replay as run_replay

    try:
        rulebook = load_paths(rules)
    except RulebookInvalid as exc:
        raise click.ClickException("the rulebook does not load:\n" + str(exc)) from exc
    aware = [moment.replace(tzinfo=UTC) if moment else None for moment in (since, until)]
    try:
        items = file_items(files) if files else \
            stored_items(_store(database_url), [tracker] if tracker else ["redmine", "jira"], aware[0], aware[1])
    except NotADelivery as exc:
        raise click.UsageError(str(exc)) from exc
    connectors = None if offline else _replay_connectors(sorted({item.tracker for item in items}), database_url)
    try:
        report = run_replay(rulebook, items, connectors)
    except TrackerError as exc:
        raise click.ClickException(f"cannot read from the tracker: {exc}") from exc
    for line in report.lines:
        click.echo(line)
    click.echo(report.summary())
    sys.exit(1 if report.unreadable else 0)


def _replay_connectors(trackers: list[str], database_url: str | None) -> dict[str, Any]:
    """A connector for each tracker the replayed deliveries come from, or a usage error
    naming the settings a missing one needs."""
    from ticketwarden.service import tracker_connectors

    connectors: dict[str, Any] = dict(tracker_connectors(_settings(database_url=database_url)))
    missing = [_NEEDS[name] for name in trackers if name not in connectors]
    if missing:
        raise click.UsageError("; ".join(missing) + " (or replay without any tracker: --offline)")
    return connectors


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--rules", "rules", multiple=True, type=click.Path(exists=True),
              help="A rulebook (file or directory, repeatable): tells whether the actor is staff or a customer.")
def inspect(files: tuple[str, ...], rules: tuple[str, ...]) -> None:
    """Print as JSON what ticketwarden sees in recorded deliveries FILES, reading no tracker:
    tracker, event kind, ticket, actor, changes and the comment with its visibility; one object
    per file, a list for several. FILES are raw webhook bodies or recorded requests
    ({"body": ..., "headers": ...}). Exit 1 when a file is not a delivery (the others are printed).
    """
    import json

    from ticketwarden.inspect import inspect_files

    try:
        staff = load_paths(rules).staff if rules else None
    except RulebookInvalid as exc:
        raise click.ClickException("the rulebook does not load:\n" + str(exc)) from exc
    shown, errors = inspect_files(files, staff)
    for error in errors:
        click.echo(error, err=True)
    if shown or len(files) > 1:
        click.echo(json.dumps(shown if len(files) > 1 else shown[0], indent=2, ensure_ascii=False, default=str))
    sys.exit(1 if errors else 0)


@main.group()
def sla() -> None:
    """SLA clocks: show a ticket's clocks, recalculate after policy or calendar changes."""


def _sla_book(rules: tuple[str, ...]) -> SlaBook:
    from ticketwarden.sla import SlaBook

    paths = rules or _settings().rules
    if not paths:
        raise click.UsageError("no rules given: use --rules PATH or set TICKETWARDEN_RULES")
    try:
        return SlaBook(load_paths(paths))
    except RulebookInvalid as exc:
        raise click.ClickException("the rulebook does not load:\n" + str(exc)) from exc


_RULES_OPTION = click.option("--rules", "rules", multiple=True, type=click.Path(exists=True),
                             help="Rule file or directory [env TICKETWARDEN_RULES]")
_DB_OPTION = click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
                          help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")


@sla.command("show")
@click.argument("ticket")
@_TRACKER_OPTION
@_RULES_OPTION
@_DB_OPTION
def sla_show(ticket: str, tracker: str | None, rules: tuple[str, ...], database_url: str | None) -> None:
    """Each SLA clock of TICKET (42, #42 or SUP-42): its state and its timeline in the
    calendar's local time."""
    from ticketwarden.clock import utcnow
    from ticketwarden.sla import show

    book, store = _sla_book(rules), _store(database_url)
    ref = _ticket(store, ticket, tracker)
    for line in show(book, store, ref.tracker, ref.id, utcnow(), str(ref)):
        click.echo(line)


@sla.command("recalc")
@click.option("--apply", is_flag=True, help="Store the recalculated clocks (default: only print).")
@_RULES_OPTION
@_DB_OPTION
def sla_recalc(apply: bool, rules: tuple[str, ...], database_url: str | None) -> None:
    """Recalculate open clocks from their history with the current policies and calendars."""
    from ticketwarden.clock import utcnow
    from ticketwarden.sla import recalc

    lines = recalc(_sla_book(rules), _store(database_url), utcnow(), apply)
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} clock(s) {'recalculated' if apply else 'would change (use --apply)'}")


@main.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
@click.option("--watch", is_flag=True,
              help="Run again whenever a test file or a rule file they use changes; Ctrl-C stops.")
def test_command(paths: tuple[str, ...], verbose: bool, watch: bool) -> None:
    """Run declarative rule tests (YAML files, or directories of them); exit 1 on any failure."""
    from ticketwarden.ruletests import run_test_files, watch_test_files

    if watch:
        try:
            watch_test_files(paths, click.echo, verbose)
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    report = run_test_files(paths)
    for line in report.lines(verbose):
        click.echo(line)
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@click.option("--tests", "tests", is_flag=True, help="The schema of rule test files (`ticketwarden test`) instead.")
def schema(output: str | None, tests: bool) -> None:
    """Print the JSON Schema of rule files (for editors and the YAML language server)."""
    from ticketwarden.gendocs import rule_test_schema_text, schema_text

    text = rule_test_schema_text() if tests else schema_text()
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
              help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")
def migrate(database_url: str | None) -> None:
    """Create or upgrade the database schema (idempotent)."""
    from ticketwarden import migrate as migrations
    from ticketwarden.store import create_db_engine

    settings = _settings(database_url=database_url)
    engine = create_db_engine(settings.effective_database_url)
    migrations.upgrade(engine)
    click.echo(f"database at revision {migrations.current_revision(engine)} "
               f"({settings.describe()['database_url']})")


@main.command()
@click.option("--bind", envvar="TICKETWARDEN_BIND", default=None,
              help="HOST:PORT to listen on [env TICKETWARDEN_BIND; default 127.0.0.1:8080]")
@click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
              help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")
@click.option("--rules", "rules", multiple=True, type=click.Path(exists=True),
              help="Rule file or directory, repeatable [env TICKETWARDEN_RULES, ':'-separated]")
@click.option("--redmine-url", envvar="REDMINE_URL", default=None,
              help="Redmine base URL [env REDMINE_URL]; the API key comes from REDMINE_API_KEY")
@click.option("--poll-interval", type=float, default=None,
              help="Seconds between reconciliation polls [env TICKETWARDEN_POLL_INTERVAL; default 60]")
@click.option("--http-only", is_flag=True,
              help="Only take deliveries in (and serve surveys, reports, admin): `ticketwarden worker` "
                   "processes run the rest.")
def serve(bind: str | None, database_url: str | None, rules: tuple[str, ...],
          redmine_url: str | None, poll_interval: float | None, http_only: bool) -> None:
    """Run the webhook intake, the worker and the scheduler in one process (or the intake
    alone, with --http-only).

    Secrets come from the environment only: REDMINE_API_KEY, TICKETWARDEN_WEBHOOK_TOKEN,
    TICKETWARDEN_REDMINE_WEBHOOK_SECRET.
    """
    from ticketwarden.service import serve as run

    settings = _settings(bind=bind, database_url=database_url, rules=rules, redmine_url=redmine_url,
                         poll_interval=poll_interval)
    _run(settings, lambda: run(settings, work=not http_only), check_bind=True)


@main.command()
@click.option("--database-url", envvar="TICKETWARDEN_DATABASE_URL", default=None,
              help="SQLAlchemy URL [env TICKETWARDEN_DATABASE_URL; default SQLite under ./var/]")
@click.option("--rules", "rules", multiple=True, type=click.Path(exists=True),
              help="Rule file or directory, repeatable [env TICKETWARDEN_RULES, ':'-separated]")
def worker(database_url: str | None, rules: tuple[str, ...]) -> None:
    """Process deliveries, write effects, sweep SLA clocks, poll the trackers and fire scheduled
    rules, with no HTTP server: run any number of these beside `serve --http-only`, on one or
    many machines sharing one PostgreSQL (or on one machine sharing its SQLite file), each with
    its own TICKETWARDEN_INSTANCE."""
    from ticketwarden.service import run_worker

    settings = _settings(database_url=database_url, rules=rules)
    _run(settings, lambda: run_worker(settings))


def _run(settings: Settings, start: Callable[[], None], check_bind: bool = False) -> None:
    from ticketwarden.service import InstanceInUse, NotMigrated

    if not settings.rules:
        raise click.UsageError("no rules given: use --rules PATH or set TICKETWARDEN_RULES")
    try:
        if check_bind:
            settings.host_port  # noqa: B018 - validates the bind address before anything starts
        start()
    except (NotMigrated, ConfigError, InstanceInUse) as exc:
        raise click.ClickException(str(exc)) from exc



@main.command()
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Incidents created from this date (UTC) [default: 30 days before --to].")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="... up to, not including, this date (UTC) [default: now].")
@click.option("--by", type=click.Choice(REPORT_GROUPS), default=None,
              help="One column of figures per group (and the total).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@_RULES_OPTION
@_DB_OPTION
def report(since: Any, until: Any, by: str | None, fmt: str, output: str | None, rules: tuple[str, ...],
           database_url: str | None) -> None:
    """The quality indicators for a period: incidents, failure origin, SLA compliance, times to
    first response and resolution, escalations, nonconformities, satisfaction."""
    from datetime import UTC

    from ticketwarden.clock import utcnow
    from ticketwarden.reports import gather, period, render

    rulebook = _sla_book(rules).rulebook
    start, end = period(since.replace(tzinfo=UTC) if since else None, until.replace(tzinfo=UTC) if until else None,
                        utcnow())
    text = render(gather(_store(database_url), rulebook, start, end, by, utcnow()), fmt, rulebook.locale,
                  rulebook.messages)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Review the whole months before this date (UTC) [default: the first day of this month].")
@click.option("--months", type=click.IntRange(1, 36), default=12, show_default=True,
              help="How many months of trends.")
@click.option("--format", "fmt", type=click.Choice(["text", "textile", "jira"]), default="text", show_default=True)
@_RULES_OPTION
@_DB_OPTION
def review(until: Any, months: int, fmt: str, rules: tuple[str, ...], database_url: str | None) -> None:
    """The support process review for the monthly SLA meeting: indicator trends, targets met or
    missed, the worst tickets by SLA overrun, records per cause (Pareto) and lessons learned."""
    from datetime import UTC

    from ticketwarden.clock import utcnow
    from ticketwarden.review import build_review, render_review

    rulebook = _sla_book(rules).rulebook
    now = utcnow()
    end = until.replace(tzinfo=UTC) if until else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    found = build_review(_store(database_url), rulebook, end, months, now)
    click.echo(render_review(found, fmt, rulebook.locale, rulebook.messages), nl=False)


@main.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), required=True,
              help="Tickets created from this date (UTC).")
@click.option("--tracker", type=click.Choice(["redmine", "jira"]), default="redmine", show_default=True,
              help="Which configured tracker to read.")
@_RULES_OPTION
@_DB_OPTION
def backfill(since: Any, tracker: str, rules: tuple[str, ...], database_url: str | None) -> None:
    """Rebuild SLA clocks, failure-origin history and ticket facts of past tickets from the
    tracker's history, with the current rulebook, so the indicators start from day one.
    Writes nothing to the tracker and runs no rule."""
    from datetime import UTC

    from connector.errors import TrackerError
    from ticketwarden import migrate
    from ticketwarden.backfill import backfill as run_backfill
    from ticketwarden.clock import utcnow
    from ticketwarden.service import tracker_connectors
    from ticketwarden.store import create_db_engine

    rulebook = _sla_book(rules).rulebook
    settings = _settings(database_url=database_url)
    connector = tracker_connectors(settings).get(tracker)
    if connector is None:
        raise click.UsageError(f"{tracker} is not configured: set "
                               + ("REDMINE_URL and REDMINE_API_KEY" if tracker == "redmine" else
                                  "JIRA_URL and JIRA_USER + JIRA_API_TOKEN (or JIRA_PERSONAL_TOKEN)"))
    migrate.upgrade(create_db_engine(settings.effective_database_url))

    def progress(ids: Any) -> Any:
        items = list(ids)
        with click.progressbar(items, label=f"backfilling {len(items)} tickets", file=sys.stderr,
                               show_pos=True) as bar:
            yield from bar

    try:
        summary = run_backfill(_store(database_url), connector, rulebook,  # type: ignore[arg-type]
                               since.replace(tzinfo=UTC), utcnow(), progress)
    except TrackerError as exc:
        raise click.ClickException(f"cannot read from {tracker}: {exc}") from exc
    click.echo(f"backfilled {summary.tickets} ticket(s) ({summary.events} events, {summary.clocks} SLA clock(s), "
               f"{summary.origin_changes} origin change(s)); {summary.skipped} already followed, left as they are")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The same, as one JSON document.")
@click.option("--dead", "dead_limit", type=int, default=20, show_default=True,
              help="How many of the newest dead letters to list.")
@_DB_OPTION
def status(as_json: bool, dead_limit: int, database_url: str | None) -> None:
    """Queues (pending, processing, dead, done; the oldest waiting; retries), dead letters with
    their reasons, each tracker's last poll, the rulebook each process has in force, and the
    SLA clocks with those due within the hour: for every process sharing the database."""
    from ticketwarden.clock import utcnow
    from ticketwarden.status import gather, lines

    found = gather(_store(database_url), utcnow(), dead_limit)
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2))
        return
    for line in lines(found):
        click.echo(line)


@main.command()
@click.option("--inbox", "inbox_ids", type=int, multiple=True, help="A dead inbox item to take again (repeatable).")
@click.option("--outbox", "outbox_ids", type=int, multiple=True, help="A dead effect to write again (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Every dead inbox item and effect.")
@_DB_OPTION
def retry(inbox_ids: tuple[int, ...], outbox_ids: tuple[int, ...], everything: bool, database_url: str | None) -> None:
    """Bring dead letters back (see `ticketwarden status`): they are taken again at once with a
    fresh budget of attempts. An effect that was tried before is checked against its tracker
    first, so what an earlier attempt wrote is not written twice."""
    from ticketwarden.clock import utcnow

    if not (inbox_ids or outbox_ids or everything):
        raise click.UsageError("name what to retry: --inbox ID, --outbox ID (repeatable) or --all")
    store = _store(database_url)
    now = utcnow()
    taken = {queue: store.requeue(queue, None if everything else list(ids), now)
             for queue, ids in (("inbox", inbox_ids), ("outbox", outbox_ids)) if everything or ids}
    for queue, count in taken.items():
        click.echo(f"{queue}: {count} re-queued")
    asked = len(inbox_ids) + len(outbox_ids)
    if not everything and sum(taken.values()) < asked:
        click.echo(f"{asked - sum(taken.values())} of the ids given were not dead letters (left as they are)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
