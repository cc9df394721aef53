"""A started process leaves what it started with out of the cycle collector's full passes
(ticketwarden.service.settle_memory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "rulebooks" / "redmine-support.yaml"

STARTED = """
import gc, sys
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import _started
from ticketwarden.store import create_db_engine
migrate.upgrade(create_db_engine(sys.argv[1]))
before = gc.get_freeze_count()
application = _started(Settings(database_url=sys.argv[1], rules=(sys.argv[2],)))
print(before, gc.get_freeze_count())
application.store.engine.dispose()
"""


def test_a_started_service_freezes_what_it_started_with(tmp_path: Path) -> None:
    answer = subprocess.run([sys.executable, "-c", STARTED, f"sqlite:///{tmp_path / 'tw.db'}", str(EXAMPLE)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    before, after = (int(n) for n in answer.stdout.split())
    assert before == 0
    assert after > 10_000  # the libraries, the compiled rulebook, the store's tables


def test_garbage_from_starting_is_collected_before_the_freeze() -> None:
    script = """
import gc, weakref
from ticketwarden.service import settle_memory
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: only the cycle collector frees it
gone = weakref.ref(a)
del a, b
settle_memory()
print(gone() is None, gc.get_freeze_count() > 0)
"""
    answer = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    assert answer.stdout.split() == ["True", "True"]


def test_the_wsgi_application_freezes_what_it_started_with(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    subprocess.run([sys.executable, "-c", "import sys; from ticketwarden import migrate; "
                    "from ticketwarden.store import create_db_engine; migrate.upgrade(create_db_engine(sys.argv[1]))",
                    url], cwd=ROOT, check=True, timeout=120)
    environment = {"PATH": os.environ.get("PATH", ""), "TICKETWARDEN_DATABASE_URL": url,
                   "TICKETWARDEN_RULES": str(EXAMPLE)}
    answer = subprocess.run([sys.executable, "-c", "import gc, ticketwarden.wsgi; print(gc.get_freeze_count())"],
                            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=True)
    assert int(answer.stdout.split()[-1]) > 10_000
