"""Rows 3 and 4: business-time arithmetic on the example calendar, and rulebook load time.

Business time is beside plain datetime arithmetic on the same inputs (what a 24/7 calendar would
cost); a generated 500-rule rulebook's load is beside the example rulebook's.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from bench.common import EXAMPLE_RULEBOOK, Row, best_of, scaled
from rules.calendar import BusinessCalendar
from rules.rulebook import load_rulebook
from rules.templates import clear_caches as clear_template_caches

GENERATED_RULES = 500


def example_text() -> str:
    with open(EXAMPLE_RULEBOOK, encoding="utf-8") as handle:
        return handle.read()


def spans(count: int, longest: timedelta) -> list[tuple[datetime, timedelta]]:
    """Seeded random (start, duration) pairs: starts over 2026 to the minute, up to `longest`."""
    rng = random.Random(20261129)  # noqa: S311 - reproducible inputs, not secrets
    year = datetime(2026, 1, 1, tzinfo=UTC)
    minutes = int(longest.total_seconds() // 60)
    return [(year + timedelta(minutes=rng.randrange(365 * 24 * 60)), timedelta(minutes=rng.randrange(minutes)))
            for _ in range(count)]


def calendar_rows() -> list[Row]:
    """`add` for spans up to a week and up to six weeks (the target: 300,000 per second on one
    core), `between`, and business days, each beside plain datetime arithmetic."""
    rulebook = load_rulebook([(EXAMPLE_RULEBOOK, example_text())])
    calendar = BusinessCalendar.from_calendar(rulebook.calendars["ba-office"])
    rows = []
    rate = 0.0
    for label, longest in (("a week", timedelta(days=7)), ("six weeks", timedelta(days=42))):
        inputs = spans(scaled(50_000, 500), longest)
        for start, duration in inputs[:50]:  # each year's index is built once, outside the timing
            calendar.add(start, duration)
        add = best_of(lambda inputs=inputs: [calendar.add(s, d) for s, d in inputs], 3)
        plain = best_of(lambda inputs=inputs: [s + d for s, d in inputs], 3)
        rate = len(inputs) / add
        rows.append(Row(f"business time: add, spans up to {label}", "ops/s", rate,
                        len(inputs) / plain, "datetime + timedelta",
                        f"{len(inputs)} random spans over 2026, ba-office (AR holidays); target >= 300,000"))
    inputs = spans(scaled(50_000, 500), timedelta(days=7))
    pairs = [(start, start + duration) for start, duration in inputs]
    between = best_of(lambda: [calendar.between(a, b) for a, b in pairs], 3)
    plain_between = best_of(lambda: [b - a for a, b in pairs], 3)
    rows.append(Row("business time: between", "ops/s", len(pairs) / between, len(pairs) / plain_between,
                    "datetime - datetime"))
    days = [(start, duration.days % 10 + 1) for start, duration in spans(scaled(20_000, 200), timedelta(days=42))]
    business = best_of(lambda: [calendar.add_business_days(s, n) for s, n in days], 3)
    plain_days = best_of(lambda: [s + timedelta(days=n) for s, n in days], 3)
    rows.append(Row("business time: add business days (1-10bd)", "ops/s", len(days) / business,
                    len(days) / plain_days, "datetime + days"))
    decades = spans(scaled(2_000, 50), timedelta(days=20 * 366))
    long_add = best_of(lambda: [calendar.add(s, d) for s, d in decades], 3)
    rows.append(Row("business time: add, spans up to 20 years", "ops/s", len(decades) / long_add,
                    rate, "add, spans up to six weeks", "one addition per whole year skipped"))
    return rows


def generated_rulebook(size: int) -> str:
    """The example rulebook with its rules repeated (renamed) up to `size` rules, each copy's
    templates made distinct (a template comment), as 500 rules of a real rulebook would be:
    templates with the same text are compiled once.

    Done on the text, not through a YAML round trip, which would rewrite `on:` and the
    condition strings (YAML 1.1 reads `on` as true).
    """
    head, _, rules = example_text().partition("\nrules:\n")
    chunks = ["  - name:" + chunk for chunk in rules.split("\n  - name:")[1:]]
    copies = []
    for n in range(size):
        chunk = chunks[n % len(chunks)]
        first, _, rest = chunk.partition("\n")
        rest = re.sub(r"(\{\{[^{}]*\}\})", lambda found, n=n: f"{found[1]}{{# {n} #}}", rest)
        copies.append(f"{first} (copy {n})\n{rest}".rstrip("\n") + "\n")
    return head + "\nrules:\n" + "".join(copies)


def cold_load(text: str, name: str) -> None:
    """A load as the first one of a process: no template compiled before."""
    clear_template_caches()
    load_rulebook([(name, text)])


def rulebook_rows() -> list[Row]:
    example = example_text()
    big = generated_rulebook(GENERATED_RULES)
    rules = len(load_rulebook([("generated.yaml", big)]).rules)
    repeat = scaled(5, 2)
    generated = best_of(lambda: cold_load(big, "generated.yaml"), repeat)
    reference = best_of(lambda: cold_load(example, EXAMPLE_RULEBOOK), repeat)
    count = len(load_rulebook([(EXAMPLE_RULEBOOK, example)]).rules)
    return [Row(f"rulebook load: {rules} rules", "ms", 1000 * generated, 1000 * reference,
                f"example rulebook ({count} rules)", f"best of {repeat}; {1000 * generated / rules:.2f} ms/rule")]
