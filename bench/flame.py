"""Summarise a py-spy raw profile (`py-spy record -f raw`): where the samples under one frame
went, by the frames of our own code and the libraries they call, so a profile can be read in a
terminal and its figures kept in BENCHMARKS.md.

    py-spy record -r 200 -f raw -o prof.txt -- .venv/bin/python -m bench.pipeline
    .venv/bin/python -m bench.flame prof.txt --under drain
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")
_OURS = ("ticketwarden/", "rules/", "connector/", "webhooks/", "bench/")


def frames(line: str) -> tuple[list[str], int]:
    """The stack of one raw line (outermost first) and its sample count."""
    stack, _, count = line.rstrip().rpartition(" ")
    return stack.split(";"), int(count)


def label(frame: str) -> str:
    """A frame without its line number: `function (file)`."""
    found = _FRAME.match(frame)
    return f"{found['func']} ({found['file']})" if found else frame


def area(frame: str) -> str:
    """Where a frame's code lives: our package, or the library's top-level name."""
    found = _FRAME.match(frame)
    path = found["file"] if found else frame
    for ours in _OURS:
        if path.startswith(ours):
            return ours.rstrip("/")
    return path.split("/")[0].split(".")[0] or "?"


def summarise(lines: list[str], under: str, top: int) -> str:
    total = 0
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    charged: Counter[str] = Counter()  # to our innermost frame: our code and the library calls it makes
    for line in lines:
        if not line.strip():
            continue
        stack, count = frames(line)
        start = next((i for i, f in enumerate(stack) if f.startswith(under + " ")), None)
        if start is None:
            continue
        below = stack[start:]
        total += count
        for name in dict.fromkeys(label(f) for f in below if area(f) in {o.rstrip("/") for o in _OURS}):
            inclusive[name] += count
        leaves[area(below[-1])] += count
        ours = [label(f) for f in below if area(f) in {o.rstrip("/") for o in _OURS}]
        charged[ours[-1] if ours else "?"] += count
    out = [f"{total} samples under {under}", "", "inclusive share of our frames:"]
    out += [f"  {count / total:6.1%}  {name}" for name, count in inclusive.most_common(top)]
    out += ["", "charged to our innermost frame (its own time and the library calls it makes):"]
    out += [f"  {count / total:6.1%}  {name}" for name, count in charged.most_common(top)]
    out += ["", "where the innermost frame was (self time by package):"]
    out += [f"  {count / total:6.1%}  {name}" for name, count in leaves.most_common(12)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--under", default="drain", help="the function whose samples are summarised")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with open(args.profile, encoding="utf-8") as handle:
        print(summarise(handle.readlines(), args.under, args.top))


if __name__ == "__main__":
    main()
