"""What every tracker session shares, below the tracker libraries."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, get_environ_proxies, get_netrc_auth
from urllib3 import HTTPConnectionPool, Retry, Timeout
from urllib3 import exceptions as urllib3_exceptions
from urllib3.exceptions import ClosedPoolError, ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError

_CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def environment_once(session: requests.Session, base_url: str) -> requests.Session:
    """Read the proxies, the CA bundle and a .netrc login from the environment once, for the
    tracker's address, and stop requests from reading them again on every call.

    requests does that lookup per request (a scan of the whole environment for proxy variables,
    and file checks for .netrc): about a quarter of the CPU time of a call to a tracker that
    answers at once. A session talks to one tracker, whose address does not change, so the
    answer is the same every time; settings given to the session explicitly still win."""
    if not session.trust_env:
        return session
    for scheme, proxy in get_environ_proxies(base_url).items():
        if scheme != "no":  # the bypass list was applied to the tracker's address just now
            session.proxies.setdefault(scheme, proxy)
    if session.verify is True:
        bundle = next((os.environ[name] for name in _CA_BUNDLE_VARIABLES if os.environ.get(name)), None)
        if bundle:
            session.verify = bundle
    if session.auth is None:
        login = get_netrc_auth(base_url)
        if login:
            session.auth = login
    session.trust_env = False
    return session


class PooledSession(requests.Session):
    """A session for one tracker whose calls go straight to urllib3's connection pool, with a
    timeout of its own when the caller gives none (requests has no session-wide timeout, and a
    tracker that hangs must not hang the worker).

    To a tracker that answers at once, requests' layers cost more than the call: the session's
    cookie jars merged and read, hooks and the redirect loop, then the adapter's URL parsing,
    proxy and certificate checks on every call, and the answer's cookies copied into a jar.
    Two thirds of a call's CPU time, and the calls of the tracker's hot path (read an issue,
    write it) need none of it: the key is a header, there are no cookies and no redirects.
    Such a call is sent here through the pool requests would have used, with the same retry
    policy, and its failures raised as requests' exceptions. Anything else (a proxy, a login,
    a client certificate, form data, an address outside the tracker's, a redirect answered)
    goes through requests' whole path, as before."""

    _DIRECT = frozenset({"data", "params", "headers", "timeout"})  # what the tracker libraries pass
    _PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~-]*")  # needs no quoting

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout
        # origin -> the adapter's pool and retries; None: a transport of another kind is mounted there
        self._pools: dict[str, tuple[HTTPConnectionPool, Retry] | None] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        origin, path = _split_origin(url)
        data = kwargs.get("data") or None
        if (args or self.trust_env or self.params or self.cookies or self.auth or self.cert or self.proxies
                or not self._DIRECT.issuperset(kwargs) or not path.startswith("/")
                or not self._PLAIN_PATH.fullmatch(path) or not isinstance(data, str | bytes | None)):
            return super().request(method, url, *args, **kwargs)
        pooled = self._pools[origin] if origin in self._pools else self._pool_for(origin, url)
        if pooled is None:
            return super().request(method, url, **kwargs)
        pool, retries = pooled
        params = kwargs.get("params")
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path
        merged = CaseInsensitiveDict(self.headers)
        merged.update(kwargs.get("headers") or {})
        headers = {name: value if isinstance(value, str) else value.decode("latin-1")
                   for name, value in merged.items() if value is not None}
        body = data.encode() if isinstance(data, str) else data
        try:
            raw = pool.urlopen(method.upper(), target, body=body, headers=headers, redirect=False,
                               assert_same_host=False, retries=retries,
                               timeout=_timeout_of(kwargs["timeout"]), preload_content=True, decode_content=True)
        except ClosedPoolError:  # the pool was let go meanwhile: the whole path takes another
            self._pools.pop(origin, None)
            return super().request(method, url, **kwargs)
        except urllib3_exceptions.HTTPError as exc:
            raise _as_requests_error(exc) from exc
        except OSError as exc:
            raise requests.ConnectionError(exc) from exc
        response = _response(method.upper(), url, headers, body, raw)
        if response.is_redirect:
            return super().request(method, url, **kwargs)
        return response

    def _pool_for(self, origin: str, url: str) -> tuple[HTTPConnectionPool, Retry] | None:
        """The pool requests' adapter keeps for the tracker's address, with its TLS settings
        checked as the adapter checks them, and the adapter's retry policy."""
        adapter = self.get_adapter(url)
        self._pools[origin] = None
        if isinstance(adapter, HTTPAdapter):
            prepared = requests.PreparedRequest()
            prepared.prepare(method="GET", url=url)
            verify = True if self.verify is None or not url.startswith("https:") else self.verify
            pool = adapter.get_connection_with_tls_context(prepared, verify)
            if isinstance(pool, HTTPConnectionPool):
                adapter.cert_verify(pool, url, verify, None)  # type: ignore[no-untyped-call]
                self._pools[origin] = (pool, adapter.max_retries)
        return self._pools[origin]


def _split_origin(url: str) -> tuple[str, str]:
    """("scheme://host:port", "/path") of an absolute URL; ("", "") when it is not one."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest:
        return "", ""
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host}", slash + path


def _timeout_of(timeout: Any) -> Timeout:
    if isinstance(timeout, Timeout):
        return timeout
    if isinstance(timeout, tuple):
        return Timeout(connect=timeout[0], read=timeout[1])
    return Timeout(connect=timeout, read=timeout)


def _as_requests_error(exc: Exception) -> requests.RequestException:
    """urllib3's failure as requests' adapter would have raised it."""
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    if isinstance(reason, urllib3_exceptions.SSLError):
        return requests.exceptions.SSLError(exc)
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return requests.ConnectTimeout(exc)
    if isinstance(reason, ReadTimeoutError):
        return requests.ReadTimeout(exc)
    if isinstance(reason, urllib3_exceptions.ResponseError):
        return requests.exceptions.RetryError(exc)
    return requests.ConnectionError(exc)


def _response(method: str, url: str, headers: dict[str, Any], body: bytes | None,
              raw: urllib3.BaseHTTPResponse) -> requests.Response:
    """The answer as requests' Response, read in full (its connection is back in the pool)."""
    request = requests.PreparedRequest()
    request.method, request.url, request.headers, request.body = method, url, CaseInsensitiveDict(headers), body
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw, response.reason, response.url, response.request = raw, raw.reason or "", url, request
    response._content = raw.data
    response._content_consumed = True  # type: ignore[attr-defined]  # as requests marks a body read
    return response
