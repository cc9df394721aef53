"""The HTTP edge: authenticate, size-check, recognise, store, acknowledge. Nothing else.

Rules are never evaluated here: a delivery is stored raw in the inbox and answered 202 within
milliseconds; the worker does the rest. Bad input never gets a 500 and is never stored.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.errors import PayloadError
from connector.jira_payloads import accepted as classify_jira
from connector.redmine_payloads import accepted as classify_redmine
from webhooks import DEFAULT_MAX_BODY
from webhooks.limits import SourceLimits
from webhooks.signatures import SignatureError, token_matches, verify_signature

log = logging.getLogger(__name__)

# Headers never stored nor logged: they carry credentials.
SECRET_HEADERS = frozenset({"authorization", "x-ticketwarden-token", "cookie", "x-redmine-api-key"})


class StoreUnavailable(Exception):
    """The inbox cannot take the delivery now; the sender should retry (503)."""


class Intake(Protocol):
    """Where deliveries go. The application implements it over its database."""

    def store(self, *, source: str, shape: str, dedup_key: str, path: str,
              headers: Mapping[str, str], body: bytes, ticket_id: str = "") -> tuple[bool, int]:
        """Store durably; (True, id) when new, (False, id) for a duplicate. May raise
        StoreUnavailable. `ticket_id`: the ticket the delivery is about, as its tracker names it."""
        ...


@dataclass(frozen=True)
class WebhookSettings:
    token: str = ""
    redmine_secret: str = ""
    max_body: int = DEFAULT_MAX_BODY
    admin_token: str = ""
    jira_secret: str = ""
    reports_token: str = ""  # read-only: the reports page, nothing else
    source_rate: float = 0.0  # deliveries per second per sender address and endpoint; 0: no limit
    source_burst: float = 0.0  # how many at once before the rate applies


@dataclass(frozen=True)
class MetricsHooks:
    """What `/metrics` serves (content type, body) and how an answered delivery is counted
    (tracker, HTTP status, whether it was a duplicate)."""

    render: Callable[[], tuple[str, bytes]]
    delivery: Callable[[str, int, bool], None]


@dataclass(frozen=True)
class AdminHooks:
    """What the admin endpoints do, provided by the application.

    `validate` checks rule files given as (name, text) and returns their errors, or the
    loaded rulebook's summary; `reload` reloads from disk and says what is now in force.
    """

    validate: Callable[[list[tuple[str, str]]], tuple[list[str], dict[str, Any]]]
    reload: Callable[[], tuple[list[str], dict[str, Any]]]
    # (from, to, by, format) -> (content type, body); ValueError for a bad parameter
    report: Callable[[str | None, str | None, str | None, str], tuple[str, str]] | None = None


@dataclass(frozen=True)
class SurveyHooks:
    """The survey pages, provided by the application: (HTTP status, HTML page)."""

    page: Callable[[str], tuple[int, str]]
    answer: Callable[[str, dict[str, str]], tuple[int, str]]


def error(status: int, reason: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": reason, **extra}), status


def create_app(intake: Intake, settings: WebhookSettings,
               readiness: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
               metrics: MetricsHooks | None = None,
               admin: AdminHooks | None = None, survey: SurveyHooks | None = None) -> Flask:
    """The Flask application of the intake. `readiness` answers /readyz (ok, details)."""
    app = Flask("ticketwarden")  # the body limit is enforced by reading at most max_body + 1 bytes
    limits = SourceLimits(settings.source_rate, settings.source_burst or 10 * settings.source_rate)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        if code == 413:
            return error(413, f"body larger than the limit of {settings.max_body} bytes")
        return error(code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error in the intake")
        return error(503, "internal error while accepting the delivery; please retry")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        ok, details = readiness() if readiness else (True, {})
        return jsonify({"status": "ready" if ok else "not ready", **details}), 200 if ok else 503

    @app.get("/metrics")
    def metrics_page() -> Response | tuple[Response, int]:
        if metrics is None:
            return error(404, "metrics are not served by this process")
        content_type, body = metrics.render()
        return Response(body, content_type=content_type)

    def observed(source: str, answer: tuple[Response, int]) -> tuple[Response, int]:
        if metrics is not None:
            _, status = answer
            metrics.delivery(source, status, status == 202 and g.get("duplicate", False))
        return answer

    def accept(source: str, authenticate: Callable[[bytes, WebhookSettings], tuple[Response, int] | None],
               classify: Callable[[Any], Any]) -> tuple[Response, int]:
        """Rate, size, authenticity, JSON, a known shape, then the inbox: in that order, for every
        tracker."""
        wait = limits.admit(source, request.remote_addr or "")
        if wait:
            answer, status = error(429, f"too many deliveries from {request.remote_addr}: "
                                        f"at most {settings.source_rate:g} per second; retry later")
            answer.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return answer, status
        body = _read_body(settings.max_body)
        if not isinstance(body, bytes):
            return body
        denied = authenticate(body, settings)
        if denied:
            return denied
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return error(400, f"body is not JSON: {exc}")
        except RecursionError:
            return error(400, "body is not JSON this server reads: nested too deeply")
        try:
            delivery = classify(document)
        except PayloadError as exc:
            return error(400, str(exc))
        try:
            new, ident = intake.store(
                source=source, shape=delivery.shape, dedup_key=delivery.dedup_key,
                path=request.path, headers=_safe_headers(dict(request.headers)), body=body,
                ticket_id=str(delivery.issue_id))
        except StoreUnavailable as exc:
            log.warning("inbox unavailable: %s", exc)
            return error(503, "the inbox is unavailable; please retry")
        g.duplicate = not new  # for the metrics, without reading the answer back
        return jsonify({"status": "accepted" if new else "duplicate", "event": delivery.dedup_key,
                        "inbox_id": ident}), 202

    @app.post("/webhooks/redmine")
    def redmine_webhook() -> tuple[Response, int]:
        return observed("redmine", accept("redmine", _authenticate_redmine, classify_redmine))

    @app.post("/webhooks/jira")
    def jira_webhook() -> tuple[Response, int]:
        # The delivery id is the same across Jira's retries: the key of last resort.
        identifier = request.headers.get("X-Atlassian-Webhook-Identifier")
        answer = accept("jira", _authenticate_jira, lambda document: classify_jira(document, identifier))
        return observed("jira", answer)

    @app.post("/admin/rules/validate")
    def validate_rules() -> tuple[Response, int]:
        denied = _authenticate_admin(settings)
        if denied:
            return denied
        if admin is None:
            return error(404, "admin endpoints are not available")
        body = _read_body(settings.max_body)
        if not isinstance(body, bytes):
            return body
        sources = _rule_sources(body)
        if isinstance(sources, str):
            return error(400, sources)
        errors, summary = admin.validate(sources)
        if errors:
            return jsonify({"status": "FAILED", "errors": errors}), 422
        return jsonify({"status": "SUCCESS", **summary}), 200

    @app.route("/survey/<path:token>", methods=["GET", "POST"])
    def survey_page(token: str) -> Any:
        """The customer's survey: never an error trace, whatever the link or the answer."""
        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                   "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
        if survey is None:
            return Response("<!DOCTYPE html><title>Survey</title><p>Surveys are not available here.</p>", 404,
                            headers)
        try:
            if request.method == "POST":
                status, page = survey.answer(token, {k: str(v) for k, v in request.form.items()})
            else:
                status, page = survey.page(token)
        except Exception:
            log.exception("survey page failed")
            return Response("<!DOCTYPE html><title>Survey</title><p>Sorry, something went wrong on our side. "
                            "Please try again later.</p>", 503, headers)
        return Response(page, status, headers)

    @app.get("/reports")
    def reports() -> Any:
        """The indicators page (HTML with charts; `format=json|csv` for machines). Browsers log
        in with HTTP Basic (any user name, the token as password); scripts send a Bearer token."""
        denied = _authenticate_reader(settings)
        if denied:
            return denied
        if admin is None or admin.report is None:
            return error(404, "reports are not available")
        try:
            content_type, body = admin.report(request.args.get("from"), request.args.get("to"),
                                              request.args.get("by"), request.args.get("format", "html"))
        except ValueError as exc:
            return error(400, str(exc))
        return Response(body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"})

    @app.post("/admin/reload")
    def reload_rules() -> tuple[Response, int]:
        denied = _authenticate_admin(settings)
        if denied:
            return denied
        if admin is None:
            return error(404, "admin endpoints are not available")
        errors, summary = admin.reload()
        if errors:
            return jsonify({"status": "rejected", "errors": errors, **summary}), 422
        return jsonify({"status": "reloaded", **summary}), 200

    return app


def _read_body(limit: int) -> bytes | tuple[Response, int]:
    """The request body, or a 413 answer: at most `limit` bytes are read, with or without a
    Content-Length (a chunked body is counted as it arrives)."""
    if request.content_length is not None and request.content_length > limit:
        return error(413, f"body larger than the limit of {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return error(413, f"body larger than the limit of {limit} bytes")
    return body


def _token_check(settings: WebhookSettings, not_configured: str, missing: str) -> tuple[Response, int] | None:
    """The shared-token fallback of deliveries that are not signed (`?token=` or a header)."""
    presented = request.headers.get("X-Ticketwarden-Token") or request.args.get("token")
    if not settings.token:
        return error(403, not_configured)
    if not presented:
        return error(401, missing)
    if not token_matches(presented, settings.token):
        return error(403, "invalid token")
    return None


def _rule_sources(body: bytes) -> list[tuple[str, str]] | str:
    """Rule files from a request: JSON {"files": {name: text}}, or one YAML file as the body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    if request.mimetype == "application/json":
        try:
            files = json.loads(text).get("files")
        except (json.JSONDecodeError, AttributeError):
            return 'expected JSON {"files": {"name.yaml": "text"}}'
        if not isinstance(files, dict) or not files or not all(isinstance(v, str) for v in files.values()):
            return 'expected JSON {"files": {"name.yaml": "text"}} with at least one file'
        return sorted(files.items())
    return [(request.args.get("name", "rules.yaml"), text)]


def _authenticate_reader(settings: WebhookSettings) -> tuple[Response, int] | None:
    """The admin token or the read-only reports token, as a Bearer token or a Basic password."""
    tokens = [token for token in (settings.admin_token, settings.reports_token) if token]
    if not tokens:
        return error(403, "reports are disabled: set TICKETWARDEN_REPORTS_TOKEN (or TICKETWARDEN_ADMIN_TOKEN)")
    header = request.headers.get("Authorization", "")
    presented = ""
    if header.lower().startswith("bearer "):
        presented = header[7:].strip()
    elif request.authorization is not None and request.authorization.type == "basic":
        presented = request.authorization.password or ""
    if not presented:
        response, status = error(401, "log in with the reports token (HTTP Basic password or Bearer token)")
        response.headers["WWW-Authenticate"] = 'Basic realm="ticketwarden reports", charset="UTF-8"'
        return response, status
    if not any(token_matches(presented, token) for token in tokens):
        return error(403, "invalid token")
    return None


def _authenticate_admin(settings: WebhookSettings) -> tuple[Response, int] | None:
    if not settings.admin_token:
        return error(403, "admin endpoints are disabled: TICKETWARDEN_ADMIN_TOKEN is not set on this server")
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.lower().startswith("bearer ") else \
        request.headers.get("X-Ticketwarden-Admin-Token")
    if not presented:
        return error(401, "missing admin token: send Authorization: Bearer TOKEN")
    if not token_matches(presented, settings.admin_token):
        return error(403, "invalid admin token")
    return None


def _authenticate_jira(body: bytes, settings: WebhookSettings) -> tuple[Response, int] | None:
    """Admin webhooks with a secret are signed (X-Hub-Signature); without one, the URL carries the token."""
    if settings.jira_secret:
        signature = request.headers.get("X-Hub-Signature")
        if not signature:
            return error(401, "missing X-Hub-Signature: this server expects signed Jira webhooks")
        try:
            verify_signature(body, signature, settings.jira_secret)
        except SignatureError as exc:
            return error(403, f"invalid X-Hub-Signature: {exc}")
        return None
    return _token_check(settings, "Jira webhooks are not accepted: set TICKETWARDEN_JIRA_WEBHOOK_SECRET "
                                  "(or TICKETWARDEN_WEBHOOK_TOKEN for ?token=) on this server",
                        "missing token: add ?token=... to the webhook URL, or configure a secret")


def _authenticate_redmine(body: bytes, settings: WebhookSettings) -> tuple[Response, int] | None:
    """Redmine 7 core webhooks are signed; the plugin's deliveries carry the shared token."""
    signature = request.headers.get("X-Redmine-Signature-256")
    if signature is not None:
        if not settings.redmine_secret:
            return error(403, "signed Redmine webhooks are not accepted: "
                              "TICKETWARDEN_REDMINE_WEBHOOK_SECRET is not set on this server")
        try:
            verify_signature(body, signature, settings.redmine_secret)
        except SignatureError as exc:
            return error(403, f"invalid X-Redmine-Signature-256: {exc}")
        return None
    return _token_check(settings, "token-authenticated webhooks are not accepted: "
                                  "TICKETWARDEN_WEBHOOK_TOKEN is not set on this server",
                        "missing token: add ?token=... to the webhook URL or send X-Ticketwarden-Token")


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in SECRET_HEADERS}
