"""pytest glue for the fake Jira.

`checked_fake_jira()` yields a started FakeJira and, when the test is done, asserts that no
exchange disagreed with the OpenAPI document: a test whose Jira traffic the document forbids
fails even if its own assertions passed. The document is in the repository, so a missing one
fails (never skips) with what is missing and how to get it back. Wrap it in a fixture where it
is needed:

    @pytest.fixture
    def fake_jira() -> Iterator[FakeJira]:
        yield from checked_fake_jira()

or list this module in a conftest's `pytest_plugins` to get `fake_jira` / `fake_jira_dc`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakejira.model import CLOUD, SERVER
from tests.fakejira.openapi import document_path, missing_document_message
from tests.fakejira.server import FakeJira


def checked_fake_jira(deployment: str = CLOUD, **options: Any) -> Iterator[FakeJira]:
    """Start a FakeJira, yield it, then stop it and fail on any OpenAPI problem it recorded."""
    document = options.get("document") or document_path()
    if not document.is_file():
        pytest.fail(missing_document_message(document), pytrace=False)
    with FakeJira(deployment=deployment, **options) as fake:
        yield fake
    fake.assert_no_problems()


@pytest.fixture
def fake_jira() -> Iterator[FakeJira]:
    """A Jira Cloud site; its traffic is checked against the OpenAPI document at teardown."""
    yield from checked_fake_jira(CLOUD)


@pytest.fixture
def fake_jira_dc() -> Iterator[FakeJira]:
    """A Jira Server/Data Center site (users by name/key, no changelog fieldId)."""
    yield from checked_fake_jira(SERVER)
