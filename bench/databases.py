"""Throw-away databases for one run: a SQLite file in a temporary folder, or a PostgreSQL
database created on the test server (var/test-postgres.env) and dropped afterwards."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bench.common import ROOT, Row, machine_facts, table

POSTGRES_ENV = os.path.join(ROOT, "var", "test-postgres.env")


def postgres_server_url() -> str | None:
    """The test server's URL (environment first, then var/test-postgres.env); None when it does not answer."""
    url = os.environ.get("TICKETWARDEN_TEST_POSTGRES_URL")
    if not url and os.path.exists(POSTGRES_ENV):
        with open(POSTGRES_ENV, encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                if key == "TICKETWARDEN_TEST_POSTGRES_URL":
                    url = value
    if not url:
        return None
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        return None
    return url


@contextmanager
def sqlite_database(name: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="tw-bench-") as folder:
        yield f"sqlite:///{os.path.join(folder, name + '.db')}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database named tw_bench_*, dropped (with its connections) at the end."""
    name = f"tw_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database(kind: str, name: str, server_url: str | None = None) -> Iterator[str]:
    """A URL of an empty database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        with sqlite_database(name) as url:
            yield url
    else:
        assert server_url is not None
        with postgres_database(server_url) as url:
            yield url


def run_alone(title: str, measure: Callable[[str, str | None], list[Row]]) -> None:
    """One benchmark's rows on SQLite and, when reachable, PostgreSQL, as `python -m bench.NAME`
    prints them (a profiler can run this too)."""
    logging.basicConfig(level=logging.ERROR)
    for name in ("ticketwarden", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    print(machine_facts(), flush=True)
    server = postgres_server_url()
    rows: list[Row] = []
    for kind in ["sqlite"] + (["postgresql"] if server else []):
        start = time.perf_counter()
        rows.extend(measure(kind, server))
        print(f"  {title} ({kind}): {time.perf_counter() - start:.1f}s", flush=True)
    print()
    print(table(rows))
