"""Shared fixtures: the test sandbox Redmine, PostgreSQL, Chromium, and stores on both backends.

`make test` starts the services first and writes their credentials to var/ (the test suite has a
Redmine instance of its own, apart from the one `make run` serves, so the two never share live
state). A test whose service is missing fails with what is missing and how to get it: nothing the
suite promises can silently not run. `make unit` selects the tests that need no service at all
(marked `services` below, from the fixtures each test uses).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rules.redaction import DEFAULT as DEFAULT_REDACTION
from ticketwarden import logs, migrate
from ticketwarden.store import Store, create_db_engine


@pytest.fixture(autouse=True)
def _log_redaction_of_the_default_rulebook() -> Iterator[None]:
    """A rulebook a test loads puts its redaction into the process's log formatter (as the
    service does on every reload); the next test starts from the default again."""
    yield
    logs.use_redaction(DEFAULT_REDACTION)


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_RULEBOOK = ROOT / "examples" / "rulebooks" / "redmine-support.yaml"


def read_env_file(name: str) -> dict[str, str]:
    path = ROOT / "var" / name
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


# Which service each fixture needs; a test using any of them (directly or through other
# fixtures) is marked with the service's name and with `services`.
SERVICE_FIXTURES = {
    "redmine_env": "redmine",
    "postgres_server_url": "postgres",
    "chromium": "browser",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = {service for name, service in SERVICE_FIXTURES.items() if name in getattr(item, "fixturenames", ())}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            needs.add("postgres")
        for service in sorted(needs):
            item.add_marker(service)
        if needs:
            item.add_marker("services")


def unavailable(reason: str) -> None:
    """A missing service fails the test with what to do; `make unit` runs the tests needing none."""
    pytest.fail(f"{reason}: `make test` installs and starts it (or run `make unit` for the tests that need "
                "no service)", pytrace=False)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, for rendering pages headless (`make test` installs it)."""
    import shutil

    path = shutil.which("chromium")
    if path is None:
        unavailable("Chromium is not installed")
    assert path is not None
    return path


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    """A headless Chromium driven through Debian's ChromeDriver (Selenium), for pages a person
    fills in. Talks to loopback only."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        unavailable("ChromeDriver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=900,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def redmine_env() -> dict[str, str]:
    """The test suite's own sandbox Redmine (instance `test`, 127.0.0.1:3001), never `make run`'s."""
    values = read_env_file("test-redmine.env")
    if not values.get("REDMINE_URL"):
        unavailable("the test sandbox Redmine is not set up (var/test-redmine.env is missing)")
    import requests

    try:
        requests.get(values["REDMINE_URL"] + "/login", timeout=10).raise_for_status()
    except requests.RequestException as exc:
        unavailable(f"the test sandbox Redmine at {values['REDMINE_URL']} does not answer: {exc}")
    return values


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("TICKETWARDEN_TEST_POSTGRES_URL") or read_env_file("test-postgres.env").get(
        "TICKETWARDEN_TEST_POSTGRES_URL")
    if not url:
        unavailable("PostgreSQL test role not set up (var/test-postgres.env missing)")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL does not answer: {exc.orig}")
    return url  # type: ignore[return-value]


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"tw_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_schema(url: str) -> None:
    engine = create_db_engine(url)
    existing = sa.MetaData()
    existing.reflect(engine)
    existing.drop_all(engine)  # every table, whatever migrations exist by now
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ticketwarden.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
        _reset_schema(url)
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = create_db_engine(database_url)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    migrate.upgrade(engine)
    yield Store(engine)
    engine.dispose()
