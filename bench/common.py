"""What every benchmark shares: the scale knob, timing, result rows and the printed table.

Each row holds a figure and its reference measured in the same run, so that the table reads as
"how far from the cheapest reasonable way of doing the same work", whatever the machine.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_RULEBOOK = os.path.join(ROOT, "examples", "rulebooks", "redmine-support.yaml")


def scale() -> float:
    """BENCH_SCALE multiplies every size (default 1); 0.1 gives a quick smoke run."""
    try:
        return max(float(os.environ.get("BENCH_SCALE", "1")), 0.01)
    except ValueError:
        return 1.0


def scaled(size: int, minimum: int = 1) -> int:
    return max(int(size * scale()), minimum)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile; 0 for no values (a row that measured nothing shows 0)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timed(function: Callable[[], object]) -> float:
    """Seconds one call takes (perf_counter)."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def best_of(function: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` calls: the least disturbed by the rest of the machine."""
    return min(timed(function) for _ in range(max(repeat, 1)))


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its reference and what both are."""

    name: str
    unit: str
    value: float
    reference: float
    reference_name: str
    note: str = ""

    @property
    def ratio(self) -> str:
        """value / reference, as "x.xx×" (or "1/n" when far below 1); for times and rates alike."""
        if not self.reference or not self.value:
            return "-"
        ratio = self.value / self.reference
        return f"{ratio:.2f}×" if ratio >= 0.1 else f"1/{1 / ratio:.0f}"


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def table(rows: Sequence[Row]) -> str:
    """A plain-text table; columns sized to their content."""
    header = ("measure", "unit", "ticketwarden", "reference", "ratio", "reference is", "note")
    lines = [(r.name, r.unit, fmt(r.value), fmt(r.reference), r.ratio, r.reference_name, r.note) for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    numeric = {2, 3, 4}

    def render(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


def machine_facts() -> str:
    """What the figures depend on besides the code."""
    return (f"cores: {os.cpu_count()}  python: {platform.python_version()} ({sys.implementation.name})  "
            f"sqlite: {sqlite3.sqlite_version}  platform: {platform.platform()}  scale: {scale():g}")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def started_together(target: Callable[..., None], arguments: Sequence[tuple[Any, ...]],
                     ready_within: float = 120, answers_within: float = 600) -> tuple[list[Any], float]:
    """Start one process of `target` per tuple of `arguments` (spawned, each given `ready`, `go`
    and `answers` after its own arguments), let them all go at once when each has said it is
    ready, and return what they answered and the seconds from go to the last answer."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready, go, answers = context.Queue(), context.Event(), context.Queue()
    processes = [context.Process(target=target, args=(*own, ready, go, answers)) for own in arguments]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=ready_within)
        start = time.perf_counter()
        go.set()
        done = [answers.get(timeout=answers_within) for _ in processes]
        return done, time.perf_counter() - start
    finally:
        for process in processes:
            process.join(timeout=30)
