"""Row 1, intake: unique plugin deliveries through the real HTTP app, beside a bare Flask app that
stores the body with one INSERT in the same kind of database, same server, same client."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request

from bench.common import EXAMPLE_RULEBOOK, Row, percentile, scaled
from bench.databases import database
from bench.loadgen import LoadResult, post_all
from bench.payloads import encoded_opened
from bench.servers import serving
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import build, settle_memory
from ticketwarden.store import create_db_engine

TOKEN = "bench-token"  # noqa: S105 - a loopback-only benchmark token
HEADERS = {"Content-Type": "application/json", "X-Ticketwarden-Token": TOKEN}
CLIENT_THREADS = 4
DEADLINE = 40.0
_ids = itertools.count(1)

bare_deliveries = sa.Table(
    "deliveries", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("body", sa.LargeBinary, nullable=False),
)


def bare_app(engine: sa.Engine) -> Flask:
    """The least an intake can do: take the body, INSERT it, answer 202."""
    app = Flask("bare-intake")

    @app.post("/webhooks/redmine")
    def intake() -> tuple[Response, int]:
        with engine.begin() as conn:
            conn.execute(bare_deliveries.insert().values(body=request.get_data()))
        return jsonify(status="accepted"), 202

    return app


@contextmanager
def real_intake(url: str) -> Iterator[str]:
    """ticketwarden's app (build with Settings, the example rules, no tracker) on waitress."""
    migrate.upgrade(create_db_engine(url))
    settings = Settings(database_url=url, rules=(EXAMPLE_RULEBOOK,), webhook_token=TOKEN, poll_overlap=0,
                        webhook_rate=0)  # one load generator is one address: no per-source limit
    application = build(settings, connectors={}, environ={})
    settle_memory()  # as the service does once started
    try:
        with serving(application.app) as base:
            yield base
    finally:
        application.store.engine.dispose()


@contextmanager
def bare_intake(url: str) -> Iterator[str]:
    engine = create_db_engine(url)
    bare_deliveries.metadata.create_all(engine)
    try:
        with serving(bare_app(engine)) as base:
            yield base
    finally:
        engine.dispose()


def load(base: str, count: int) -> LoadResult:
    """A short warm-up, then `count` unique deliveries."""
    post_all(base + "/webhooks/redmine", encoded_opened(20, next_ids(20)), HEADERS, threads=1)
    return post_all(base + "/webhooks/redmine", encoded_opened(count, next_ids(count)), HEADERS,
                    threads=CLIENT_THREADS, deadline=DEADLINE)


def next_ids(count: int) -> int:
    """The first of `count` issue ids never posted before in this run."""
    first = next(_ids)
    for _ in range(count - 1):
        next(_ids)
    return first


def measure(kind: str, server_url: str | None = None) -> list[Row]:
    """deliveries/s, p50 and p99 for ticketwarden and the bare app on one kind of database."""
    count = scaled(2000, 50)
    with database(kind, "intake", server_url) as url, real_intake(url) as base:
        real = load(base, count)
    with database(kind, "bare", server_url) as url, bare_intake(url) as base:
        bare = load(base, count)
    check(real, "ticketwarden")
    check(bare, "bare Flask")
    note = f"{len(real.latencies)} deliveries, {CLIENT_THREADS} client threads"
    reference = f"bare Flask + 1 INSERT ({kind})"
    return [
        Row(f"intake {kind}: throughput", "deliveries/s", real.rate, bare.rate, reference, note),
        Row(f"intake {kind}: p50 latency", "ms", 1000 * percentile(real.latencies, 0.5),
            1000 * percentile(bare.latencies, 0.5), reference),
        Row(f"intake {kind}: p99 latency", "ms", 1000 * percentile(real.latencies, 0.99),
            1000 * percentile(bare.latencies, 0.99), reference),
    ]


def check(result: LoadResult, who: str) -> None:
    """Every delivery must have been accepted, or the figure measures something else."""
    accepted = result.statuses.get(202, 0)
    if result.errors or accepted != len(result.latencies):
        raise RuntimeError(f"{who}: {accepted} of {len(result.latencies)} accepted, statuses {result.statuses}, "
                           f"{result.errors} errors")
