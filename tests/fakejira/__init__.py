"""A local, stateful fake of Jira's REST API (Cloud and Server/DC) for integration tests.

Driven by the real `jira` library; every request and response is checked against Atlassian's
OpenAPI document (see openapi.py for the short allow-list of the document's known mistakes),
and changes are announced by Jira-style webhooks (webhooks.py). Start with FakeJira (server.py).
"""

from tests.fakejira.model import CLOUD, SERVER, JiraError
from tests.fakejira.openapi import KNOWN_MISTAKES, KnownMistake, Problem
from tests.fakejira.server import FakeJira, Seen
from tests.fakejira.webhooks import Delivery, Registration, signature

__all__ = ["CLOUD", "KNOWN_MISTAKES", "SERVER", "Delivery", "FakeJira", "JiraError", "KnownMistake", "Problem",
           "Registration", "Seen", "signature"]
