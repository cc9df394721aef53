"""The command line: check, migrate, version, and serve as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from click.testing import CliRunner

from tests.conftest import EXAMPLE_RULEBOOK, ROOT
from ticketwarden import __version__
from ticketwarden.cli import main


def test_version():
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0 and result.output == f"ticketwarden {__version__}\n"


def test_every_command_has_help():
    for command in ([], ["serve"], ["check"], ["migrate"], ["version"], ["explain"], ["records"], ["replay"],
                    ["inspect"], ["sla", "show"]):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_check_success_and_failure(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - name: x\n    on: [ticket.created]\n    if: [colour = red]\n"
                   "    then: [{comment: {body: hi}}]\n")
    result = CliRunner().invoke(main, ["check", str(EXAMPLE_RULEBOOK), str(bad)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    from ticketwarden.rulefiles import load_paths

    count = len(load_paths([EXAMPLE_RULEBOOK]).rules)
    assert lines[0] == f"SUCCESS {EXAMPLE_RULEBOOK}: {count} rule(s) in {EXAMPLE_RULEBOOK}"
    assert lines[1] == f"FAILED {bad}: 1 error(s)"
    assert lines[2].startswith(f"  {bad}:5: rules → 0 → if → 0: unknown field 'colour'")
    assert CliRunner().invoke(main, ["check", str(EXAMPLE_RULEBOOK)]).exit_code == 0


def test_check_warns_of_staff_told_by_email_alone_and_still_succeeds(tmp_path):
    """Jira Cloud sends no e-mail addresses: such a rulebook loads, but `check` says why its
    staff would never be recognised there."""
    rules = tmp_path / "cloud.yaml"
    rules.write_text("version: 1\nfields: {origin: {jira: customfield_10050}}\nstaff:\n  email_domains: [example.com]\n"
                     "rules: []\n")
    result = CliRunner().invoke(main, ["check", str(rules)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"SUCCESS {rules}: 0 rule(s) in {rules}"
    assert lines[1].startswith(f"  warning: {rules}:4: staff → email_domains: staff are told apart by e-mail domain "
                               "alone, and Jira Cloud sends no e-mail addresses")
    assert len(lines) == 2


def test_check_every_shipped_rulebook():
    rulebooks = sorted((ROOT / "examples" / "rulebooks").glob("*.yaml"))
    assert rulebooks
    result = CliRunner().invoke(main, ["check", *map(str, rulebooks)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # the Jira example tells staff by group and role


def test_migrate_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(main, ["migrate", "--database-url", url])
    from ticketwarden.migrate import head_revision

    assert result.exit_code == 0 and f"database at revision {head_revision()}" in result.output
    assert CliRunner().invoke(main, ["migrate", "--database-url", url]).exit_code == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_refuses_an_unmigrated_database(tmp_path):
    env = {**os.environ, "TICKETWARDEN_DATA_DIR": str(tmp_path), "TICKETWARDEN_DATABASE_URL": ""}
    result = subprocess.run([sys.executable, "-m", "ticketwarden.cli", "serve", "--rules", str(EXAMPLE_RULEBOOK)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "run `ticketwarden migrate`" in result.stderr


def test_serve_runs_and_stops_cleanly(tmp_path):
    """The embedded default: SQLite under the data folder, no tracker, answering on loopback."""
    port = free_port()
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE_RULEBOOK.read_text())
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REDMINE_", "TICKETWARDEN_"))}
    env.update(TICKETWARDEN_DATA_DIR=str(tmp_path), TICKETWARDEN_BIND=f"127.0.0.1:{port}",
               TICKETWARDEN_WEBHOOK_TOKEN="serve-test", TICKETWARDEN_RULES=str(rules))
    subprocess.run([sys.executable, "-m", "ticketwarden.cli", "migrate"], env=env, check=True,
                   capture_output=True, timeout=60)
    process = subprocess.Popen([sys.executable, "-m", "ticketwarden.cli", "serve"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                ready = requests.get(base + "/readyz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("serve did not answer")
        assert ready.status_code == 200 and ready.json()["checks"] == {"rules": True, "store": True}
        accepted = requests.post(base + "/webhooks/redmine", headers={"X-Ticketwarden-Token": "serve-test"},
                                 json={"payload": {"action": "opened", "issue": {"id": 1}}}, timeout=5)
        assert accepted.status_code == 202
        assert (Path(tmp_path) / "ticketwarden.db").exists()

        # SIGHUP reloads; a broken rulebook is refused and the last good one keeps running.
        rules.write_text("version: 1\nrules: [oops]\n")
        process.send_signal(signal.SIGHUP)
        for _ in range(100):
            after = requests.get(base + "/readyz", timeout=2).json()
            if "rule_errors" in after:
                break
            time.sleep(0.1)
        assert after["status"] == "ready"
        assert after["rule_errors"] == [f"{rules}:2: rules → 0: a rule must be a mapping with name, on, if, then"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "no tracker configured" in output
    assert "serve-test" not in output  # secrets are never logged


def test_the_service_logs_the_warnings_of_a_rulebook_it_loads(tmp_path, caplog):
    from ticketwarden.rulefiles import RulebookHolder

    rules = tmp_path / "cloud.yaml"
    rules.write_text("version: 1\nstaff: {email_domains: [example.com]}\nrules: []\n")
    holder = RulebookHolder([rules])
    with caplog.at_level("WARNING", logger="ticketwarden.rulefiles"):
        assert holder.reload() == []
    assert holder.current is not None and len(holder.current.warnings) == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"rulebook {holder.current.version}: {holder.current.warnings[0]}"]
