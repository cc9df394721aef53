"""Run every benchmark and print one table: each figure beside its reference from the same run.

    make bench                 # or: .venv/bin/python -m bench.run
    BENCH_SCALE=0.2 make bench # smaller sizes (a quick look); 2 doubles them
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bench import arithmetic, intake, pipeline, pipeline_jira, scaling, sweep, writers
from bench.common import Row, machine_facts, table
from bench.databases import postgres_server_url


def quiet() -> None:
    """Only the table: waitress's queue warnings and the service's info lines are noise here."""
    logging.basicConfig(level=logging.ERROR)
    for name in ("ticketwarden", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # a keep-alive answer still in flight when a server is closed between rows is not a finding
    logging.getLogger("waitress").setLevel(logging.CRITICAL)


def section(title: str, rows: list[Row], produce: Callable[[], list[Row]]) -> None:
    """Run one benchmark, saying how long it took (progress lines, before the table)."""
    start = time.perf_counter()
    rows.extend(produce())
    print(f"  {title}: {time.perf_counter() - start:.1f}s", flush=True)


def main() -> None:
    quiet()
    print(machine_facts(), flush=True)
    server = postgres_server_url()
    kinds = ["sqlite"] + (["postgresql"] if server else [])
    rows: list[Row] = []
    calls: dict[str, str] = {}
    for kind in kinds:  # first, while the process is small: its rows measure the process's memory
        section(f"SLA sweep ({kind})", rows, lambda kind=kind: sweep.measure(kind, server))
    for kind in kinds:
        section(f"intake ({kind})", rows, lambda kind=kind: intake.measure(kind, server))
    section("writers (sqlite)", rows, writers.measure)
    for kind in kinds:
        def e2e(kind: str = kind) -> list[Row]:
            found, outcome = pipeline.measure(kind, server)
            calls[kind] = ", ".join(f"{shape} {count}" for shape, count in outcome.calls.most_common())
            return found
        section(f"end to end ({kind})", rows, e2e)
    for kind in kinds:
        def e2e_jira(kind: str = kind) -> list[Row]:
            found, outcome = pipeline_jira.measure(kind, server)
            calls[f"{kind} jira"] = ", ".join(f"{shape} {count}" for shape, count in outcome.calls.most_common())
            return found
        section(f"end to end jira ({kind})", rows, e2e_jira)
    for kind in kinds:
        section(f"scaling ({kind})", rows, lambda kind=kind: scaling.measure(kind, server))
    section("business time", rows, arithmetic.calendar_rows)
    section("rulebook load", rows, arithmetic.rulebook_rows)
    if not server:
        print("  PostgreSQL: not reachable (var/test-postgres.env), its rows are left out")
    print()
    print(table(rows))
    for kind, shapes in calls.items():
        print(f"\ntracker calls, end to end {kind}: {shapes}")


if __name__ == "__main__":
    main()
