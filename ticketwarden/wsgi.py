"""The webhook intake (and surveys, reports, admin) as a WSGI application, for running several
HTTP processes behind one address: `gunicorn -w 4 -b 127.0.0.1:8080 ticketwarden.wsgi:application`.

Settings come from the environment, as for `ticketwarden serve --http-only`; nothing is
processed here: `ticketwarden worker` processes do that, sharing the same database.
"""

from __future__ import annotations

import os

from ticketwarden import logs
from ticketwarden.config import from_environment
from ticketwarden.service import build, settle_memory

logs.configure("INFO", os.environ.get("TICKETWARDEN_LOG_FORMAT", "text"), logs.secrets_of(os.environ))
application = build(from_environment()).app
settle_memory()  # before gunicorn forks its workers (with --preload), or in each of them
