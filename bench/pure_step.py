"""The pure pipeline step alone, on the end-to-end flow's deliveries: each ticket's two
deliveries through `rules.pipeline.process` (the second seeing the clocks the first moved, as
the worker decides them) and each decision's audit trace made; no store, no HTTP. Prints the
best of 7 in ms a delivery: how much of a delivery's time the rules take, to set beside the
end-to-end rows.

    .venv/bin/python -m bench.pure_step
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import EXAMPLE_RULEBOOK, scaled
from bench.pipeline import NOW, bodies, model_for, vocabulary
from connector.redmine_payloads import event_from_body, ticket_from_issue
from rules.pipeline import process
from rules.rulebook import load_rulebook
from rules.sla import Clock
from ticketwarden.sla import SlaBook


def best_ms_per_delivery(tickets: int, runs: int = 7) -> float:
    with open(EXAMPLE_RULEBOOK, encoding="utf-8") as handle:
        rulebook = load_rulebook([(EXAMPLE_RULEBOOK, handle.read())])
    book, names, model = SlaBook(rulebook), vocabulary(), model_for(tickets)
    inputs: list[tuple[Any, Any]] = []
    for body in bodies(tickets):
        event = event_from_body(body, names)
        inputs.append((event, ticket_from_issue(model.issues[int(event.ticket_id)], names, "http://127.0.0.1")))

    def once() -> float:
        clocks: dict[str, list[Clock]] = {}
        start = time.perf_counter()
        for event, ticket in inputs:
            step = process(rulebook, book.calendars, event, ticket, clocks.get(event.ticket_id, []), NOW)
            clocks[event.ticket_id] = step.clocks
            for decision in step.decisions:
                decision.to_dict()
        return time.perf_counter() - start

    return 1000 * min(once() for _ in range(runs)) / len(inputs)


def main() -> None:
    tickets = scaled(300, 10)
    print(f"pure step: {best_ms_per_delivery(tickets):.3f} ms a delivery "
          f"({tickets} tickets × 2 deliveries, best of 7)")


if __name__ == "__main__":
    main()
