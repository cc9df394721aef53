"""What every tracker session shares, below the tracker libraries."""

from __future__ import annotations

import os

import requests
from requests.utils import get_environ_proxies, get_netrc_auth

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
