"""Checks every exchange of the fake against Atlassian's OpenAPI document (openapi-core).

Why: a fake that answers what we *think* Jira answers only tests our beliefs. Checking each
request the client sends and each response the fake gives against the published document
keeps both honest. The document describes /rest/api/3 only; /rest/api/2 (and /latest, which
is 2) take the same shapes apart from text bodies, so their traffic is checked as if it had
gone to /rest/api/3. The document is not perfect: KNOWN_MISTAKES lists, each with its
reason, the few places where the real Jira (and the `jira` library) disagree with it.

The document checked against is the trimmed copy in jira-openapi/ (only what the fake serves;
see its README.md and trim_openapi.py); $TICKETWARDEN_JIRA_OPENAPI may name a full download.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request.validators import V30RequestValidator
from openapi_core.validation.response.exceptions import MissingData
from werkzeug.datastructures import Headers, ImmutableMultiDict

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_ENV = "TICKETWARDEN_JIRA_OPENAPI"
DEFAULT_DOCUMENT = Path(__file__).resolve().parent / "jira-openapi" / "jira-platform-v3.trimmed.json"
SOURCE_URL = "https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json"
REGENERATE = (f"curl -fsSL -o FULL_DOWNLOAD.json {SOURCE_URL} && "
              ".venv/bin/python -m tests.fakejira.trim_openapi FULL_DOWNLOAD.json")
API_PREFIX = re.compile(r"^/rest/api/(2|3|latest)(?=/)")

# Jira writes times as 2026-03-02T09:00:00.000+0000 (no colon in the offset); RFC 3339 wants +00:00.
JIRA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?([+-]\d{4}|[+-]\d{2}:\d{2}|Z)$")


def document_path() -> Path:
    """Where the document is: $TICKETWARDEN_JIRA_OPENAPI (a full download), else the trimmed copy."""
    return Path(os.environ.get(DOCUMENT_ENV) or DEFAULT_DOCUMENT)


def missing_document_message(path: Path) -> str:
    """What is missing and how to get it back, so a failing test says what to do."""
    trimmed = DEFAULT_DOCUMENT.relative_to(ROOT)
    if path == DEFAULT_DOCUMENT:
        return (f"Jira OpenAPI document not found at {path}: restore it (git checkout -- {trimmed}) "
                f"or regenerate it: {REGENERATE}")
    named = f" (named by ${DOCUMENT_ENV})" if os.environ.get(DOCUMENT_ENV) else ""
    return (f"Jira OpenAPI document not found at {path}{named}: point it at a full download of {SOURCE_URL}, "
            f"or unset ${DOCUMENT_ENV} to use the trimmed copy {trimmed}")


@dataclass(frozen=True)
class Problem:
    """One disagreement between an exchange and the document (what a test reports)."""

    direction: str  # "request" | "response"
    method: str
    path: str  # as served, e.g. /rest/api/2/issue/SUP-1
    status: int | None
    where: str  # "body.fields.summary", "query.maxResults", "" for the whole message
    message: str

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        where = f" at {self.where}" if self.where else ""
        return f"{self.direction} {self.method} {self.path}{status}{where}: {self.message}"


@dataclass(frozen=True)
class Finding:
    """A flattened validation error, with what allow-list entries need to recognise it."""

    direction: str
    method: str
    v3_path: str
    status: int | None
    location: tuple[str | int, ...]  # ("body", "comment") / ("query", "validateQuery") / ()
    message: str
    validator: str | None = None
    validator_value: Any = None
    instance: Any = None
    error: Exception | None = None

    def at(self, *location: str | int) -> bool:
        return self.location == location


@dataclass(frozen=True)
class KnownMistake:
    """An allow-list entry: findings it matches are the document's fault, not the fake's."""

    why: str
    matches: Callable[[Finding], bool]
    direction: str = "request"
    method: str | None = None
    path: str | None = None  # regex over the /rest/api/3 path

    def allows(self, finding: Finding) -> bool:
        return (finding.direction == self.direction
                and (self.method is None or finding.method == self.method)
                and (self.path is None or re.fullmatch(self.path, finding.v3_path) is not None)
                and self.matches(finding))


def _null_at(*keys: str) -> Callable[[Finding], bool]:
    return lambda f: f.instance is None and len(f.location) == 2 and f.location[0] == "body" and f.location[1] in keys


def _changelog_null(f: Finding) -> bool:
    loc = f.location
    return (f.instance is None and len(loc) >= 4 and loc[-1] in ("from", "to", "fromString", "toString")
            and loc[-3] == "items" and "histories" in loc)


# The allow-list. Each entry is a place where the document disagrees with the real Jira (or with
# what the `jira` library sends, which Jira accepts); everything else it rejects is a Problem.
# The document is also *looser* than Jira in places: comment bodies and issue fields are untyped
# ({}), so it accepts a string body on v3 and a document on v2; the fake refuses those itself,
# as Jira does (model.read_text), rather than relying on the document.
KNOWN_MISTAKES: tuple[KnownMistake, ...] = (
    # The jira library's create_issue_link always sends "comment": null; Jira reads null as "no comment".
    KnownMistake("POST /issueLink: `comment: null`", _null_at("comment"), method="POST", path=r".*/issueLink"),
    # The library's use_post searches send "expand": null / "properties": null; Jira ignores nulls.
    KnownMistake("POST search: null `expand`/`properties`", _null_at("expand", "properties"),
                 method="POST", path=r".*/search(/jql)?"),
    # Unassigning is {"accountId": null} (Server: {"name": null}), as the operation's own text says.
    KnownMistake("PUT assignee: null unassigns", _null_at("accountId", "name"), method="PUT", path=r".*/assignee"),
    # transition_issue() int()s numeric ids; Jira takes "transition": {"id": 31} as well as "31".
    KnownMistake("POST transitions: numeric `transition.id`",
                 lambda f: f.at("body", "transition", "id") and isinstance(f.instance, int),
                 method="POST", path=r".*/transitions"),
    # Classic search: requests writes Python's True as "True", the library's POST sends a JSON boolean;
    # Jira parses the flag case-insensitively either way.
    KnownMistake("search: validateQuery True/False",
                 lambda f: f.location[-1:] == ("validateQuery",) and str(f.instance).lower() in ("true", "false"),
                 path=r".*/search"),
    # Jira times are 2026-03-02T09:00:00.000+0000, not RFC 3339 (+00:00); every client parses them as such.
    KnownMistake("Jira time format", lambda f: f.validator == "format" and f.validator_value == "date-time"
                 and isinstance(f.instance, str) and JIRA_TIME.match(f.instance) is not None, direction="response"),
    # Changelog items carry null from/to/fromString/toString when a side is empty (non-nullable in the document).
    KnownMistake("changelog items: null from/to", _changelog_null, direction="response"),
    # 204 (and issueLink's 201) are documented with an application/json body; Jira sends none.
    KnownMistake("201/204 without a body", lambda f: isinstance(f.error, MissingData) and f.status in (201, 204),
                 direction="response"),
)


class _BearerOrNothing(BaseProvider):
    """The document's OAuth2 scheme stands for Bearer tokens; openapi-core cannot check it and
    would warn on every request, so accept it quietly (the fake checks the token itself)."""

    def __call__(self, parameters: RequestParameters) -> Any:
        return parameters.header.get("Authorization")


class _Providers(SecurityProviderFactory):
    def create(self, scheme: SchemaPath) -> Any:
        if (scheme / "type").read_str() == "oauth2":
            return _BearerOrNothing(scheme)
        return super().create(scheme)


class _RequestValidator(V30RequestValidator):
    """openapi-core's OpenAPI 3.0 request validator, with the Bearer-tolerant security check."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["security_provider_factory"] = _Providers()
        super().__init__(*args, **kwargs)


@dataclass
class _Request:
    """openapi-core's Request protocol over a plain description of what came in."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _Response:
    status_code: int
    data: bytes | None
    content_type: str
    headers: Headers


def to_v3(path: str) -> str:
    """/rest/api/2/... and /rest/api/latest/... are checked as /rest/api/3/..."""
    return API_PREFIX.sub("/rest/api/3", path)


_DOCUMENTS: dict[Path, dict[str, Any]] = {}
_LOAD_LOCK = threading.Lock()


def _load(path: Path) -> dict[str, Any]:
    with _LOAD_LOCK:  # parse each file once per process (a full download is 2.3 MB)
        if path not in _DOCUMENTS:
            _DOCUMENTS[path] = json.loads(path.read_text(encoding="utf-8"))
        return _DOCUMENTS[path]


class Checker:
    """Validates exchanges of one fake (whose base URL the document's `servers` now names)."""

    def __init__(self, base_url: str, document: Path | None = None,
                 known_mistakes: Iterable[KnownMistake] = KNOWN_MISTAKES):
        path = document or document_path()
        if not path.is_file():
            raise FileNotFoundError(missing_document_message(path))
        spec = dict(_load(path))  # shallow: only `servers` is replaced
        spec["servers"] = [{"url": base_url.rstrip("/")}]
        # The document does not pass strict spec validation; it is checked against, not checked.
        self.app = OpenAPI(SchemaPath.from_dict(spec),
                           config=Config(spec_validator_cls=None, request_validator_cls=_RequestValidator))
        self.base_url = base_url.rstrip("/")
        self.known_mistakes = tuple(known_mistakes)
        self.allowed: list[tuple[KnownMistake, Finding]] = []  # what the allow-list let through
        self._lock = threading.Lock()

    def check(self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
              body: bytes, content_type: str, status: int | None = None, response_body: bytes | None = None,
              response_type: str = "application/json", response_headers: Mapping[str, str] | None = None,
              ) -> list[Problem]:
        """Problems of one exchange; `status=None` checks the request only."""
        request = _Request(
            host_url=self.base_url, path=to_v3(path), method=method.lower(), body=body or None,
            content_type=content_type or "application/octet-stream",
            parameters=RequestParameters(query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
                                         header=Headers(list(headers.items()))))
        findings = list(self._findings("request", request, status, self.app.request_validator.iter_errors(request)))
        if status is not None and not any(isinstance(f.error, PathError) for f in findings):
            response = _Response(status, response_body or None, response_type, Headers(list((response_headers or
                                                                                               {}).items())))
            findings += self._findings("response", request, status,
                                       self.app.response_validator.iter_errors(request, response))
        problems = []
        with self._lock:  # the server is threaded
            for finding in findings:
                mistake = next((m for m in self.known_mistakes if m.allows(finding)), None)
                if mistake is not None:
                    self.allowed.append((mistake, finding))
                    continue
                where = ".".join(str(part) for part in finding.location)
                problems.append(Problem(finding.direction, method.upper(), path, status, where, finding.message))
        return problems

    def _findings(self, direction: str, request: _Request, status: int | None,
                  errors: Iterable[Exception]) -> Iterator[Finding]:
        method, status = request.method.upper(), status if direction == "response" else None
        for error in errors:
            cause = error.__cause__
            schema_errors = list(getattr(cause, "schema_errors", None) or [])
            name = getattr(error, "name", None)
            prefix: tuple[str | int, ...] = ("body",)
            if name is not None:  # a parameter
                prefix = (str(getattr(error, "location", "query")), str(name))
            if not schema_errors:
                message = f"{error}" + (f" ({cause})" if cause is not None and str(cause) not in str(error) else "")
                yield Finding(direction, method, request.path, status, prefix if name is not None else (), message,
                              error=error, instance=_instance_of(error, cause))
                continue
            for item in _leaves(schema_errors):
                yield Finding(direction, method, request.path, status, prefix + tuple(item.absolute_path),
                              item.message, validator=str(item.validator),
                              validator_value=copy.copy(item.validator_value), instance=item.instance, error=error)


def _instance_of(error: Exception, cause: BaseException | None) -> Any:
    for source in (cause, error):
        value = getattr(source, "value", None)
        if value is not None:
            return value
    return None


def _leaves(errors: Iterable[Any]) -> Iterator[Any]:
    """jsonschema errors, descending into anyOf/oneOf contexts so each leaf has its own path."""
    for error in errors:
        context = list(getattr(error, "context", None) or [])
        if context and error.validator in ("anyOf", "oneOf"):
            yield from _leaves(context)
        else:
            yield error
