"""Rows 3 and 4: business-time arithmetic on the example calendar, and rulebook load time.

Business time is beside plain datetime arithmetic on the same inputs (what a 24/7 calendar would
cost); a generated 500-rule rulebook's load is beside the example rulebook's.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bench.common import EXAMPLE_RULEBOOK, Row, best_of, scaled
from rules.calendar import BusinessCalendar
from rules.rulebook import load_rulebook

GENERATED_RULES = 500


def example_text() -> str:
    with open(EXAMPLE_RULEBOOK, encoding="utf-8") as handle:
        return handle.read()


def spans(count: int) -> list[tuple[datetime, timedelta]]:
    """Seeded random (start, duration) pairs: starts over 2026 to the minute, up to 5 days long."""
    rng = random.Random(20261129)  # noqa: S311 - reproducible inputs, not secrets
    year = datetime(2026, 1, 1, tzinfo=UTC)
    return [(year + timedelta(minutes=rng.randrange(365 * 24 * 60)), timedelta(minutes=rng.randrange(5 * 24 * 60)))
            for _ in range(count)]


def calendar_rows() -> list[Row]:
    rulebook = load_rulebook([(EXAMPLE_RULEBOOK, example_text())])
    calendar = BusinessCalendar.from_calendar(rulebook.calendars["ba-office"])
    inputs = spans(scaled(10_000, 200))
    pairs = [(start, start + duration) for start, duration in inputs]
    for start, duration in inputs[:50]:  # holidays of every year are computed once, outside the timing
        calendar.add(start, duration)
    count = len(inputs)
    add = best_of(lambda: [calendar.add(s, d) for s, d in inputs], 3)
    plain_add = best_of(lambda: [s + d for s, d in inputs], 3)
    between = best_of(lambda: [calendar.between(a, b) for a, b in pairs], 3)
    plain_between = best_of(lambda: [b - a for a, b in pairs], 3)
    note = f"{count} random spans of 0-5 days over 2026, ba-office (AR holidays)"
    return [
        Row("business time: add", "ops/s", count / add, count / plain_add, "datetime + timedelta", note),
        Row("business time: between", "ops/s", count / between, count / plain_between, "datetime - datetime"),
    ]


def generated_rulebook(size: int) -> str:
    """The example rulebook with its rules repeated (renamed) up to `size` rules.

    Done on the text, not through a YAML round trip, which would rewrite `on:` and the
    condition strings (YAML 1.1 reads `on` as true).
    """
    head, _, rules = example_text().partition("\nrules:\n")
    chunks = ["  - name:" + chunk for chunk in rules.split("\n  - name:")[1:]]
    copies = []
    for n in range(size):
        chunk = chunks[n % len(chunks)]
        first, _, rest = chunk.partition("\n")
        copies.append(f"{first} (copy {n})\n{rest}".rstrip("\n") + "\n")
    return head + "\nrules:\n" + "".join(copies)


def rulebook_rows() -> list[Row]:
    example = example_text()
    big = generated_rulebook(GENERATED_RULES)
    rules = len(load_rulebook([("generated.yaml", big)]).rules)
    repeat = scaled(5, 2)
    generated = best_of(lambda: load_rulebook([("generated.yaml", big)]), repeat)
    reference = best_of(lambda: load_rulebook([(EXAMPLE_RULEBOOK, example)]), repeat)
    count = len(load_rulebook([(EXAMPLE_RULEBOOK, example)]).rules)
    return [Row(f"rulebook load: {rules} rules", "ms", 1000 * generated, 1000 * reference,
                f"example rulebook ({count} rules)", f"best of {repeat}; {1000 * generated / rules:.2f} ms/rule")]
