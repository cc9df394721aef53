"""Webhook authentication: tiny, pure, constant-time.

- Shared token (redmine_webhook plugin: it cannot sign, so its URL carries a token).
- `sha256=<hex>` HMAC of the raw body (Redmine 7 `X-Redmine-Signature-256`, Jira `X-Hub-Signature`).
"""

from __future__ import annotations

import hashlib
import hmac


class SignatureError(ValueError):
    """The request is not authentic; the message says why (never echoing a secret)."""


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


_DIGESTS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The header value a sender computes: `sha256=<hex>`."""
    return f"{method}=" + hmac.new(secret.encode(), body, _DIGESTS[method]).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str, *, allowed: tuple[str, ...] = ("sha256",)) -> None:
    """Raise SignatureError unless `header` is a valid `method=hex` HMAC of `body`."""
    if not header:
        raise SignatureError("missing signature header")
    method, sep, digest = header.strip().partition("=")
    if not sep or not digest:
        raise SignatureError("malformed signature header: expected `sha256=<hex>`")
    method = method.strip().lower()
    if method not in allowed:
        raise SignatureError(f"unsupported signature method {method!r}")
    expected = sign(body, secret, method)
    if not hmac.compare_digest(expected.encode(), f"{method}={digest.strip().lower()}".encode()):
        raise SignatureError("signature does not match the body")
