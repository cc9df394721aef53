"""`ticketwarden test`: find rule test files, load the rulebooks they name, run, report; with
`--watch`, run again whenever one of those files changes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rules.errors import RulebookInvalid, RuleError
from rules.testing import TestResult, build_cases, read_test_file, run_case
from ticketwarden.rulefiles import load_paths, rule_files

WATCH_INTERVAL = 0.5  # seconds between looks at the files' modification times


@dataclass
class Report:
    results: list[TestResult] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(result.passed for result in self.results)

    def lines(self, verbose: bool = False) -> list[str]:
        out = [str(error) for error in self.errors]
        for result in self.results:
            if result.passed:
                if verbose:
                    out.append(f"PASS {result.file}:{result.line} {result.name}")
                continue
            out.append(f"FAIL {result.file}:{result.line} {result.name}")
            out.extend(f"    {failure}" for failure in result.failures)
        passed = sum(result.passed for result in self.results)
        failed = len(self.results) - passed
        summary = f"{passed} passed, {failed} failed"
        if self.errors:
            summary += f", {len(self.errors)} error(s) in test files"
        out.append(summary)
        return out


def run_test_files(paths: Iterable[str | Path], channels: Iterable[str] | None = None) -> Report:
    report = Report()
    for path in rule_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:  # gone or half-written while watched
            report.errors.append(RuleError(str(path), 1, (), f"cannot read: {exc}"))
            continue
        document, errors = read_test_file(str(path), text)
        report.errors.extend(errors)
        if document is None:
            continue
        target = (path.parent / str(document["rulebook"])).resolve()
        try:
            rulebook = load_paths([target], channels=channels)
        except RulebookInvalid as exc:
            report.errors.append(RuleError(str(path), 1, ("rulebook",), f"the rulebook {target} does not load:"))
            report.errors.extend(exc.errors)
            continue
        cases, case_errors = build_cases(str(path), document, rulebook)
        report.errors.extend(case_errors)
        for case in cases:
            result, _ = run_case(case, rulebook)
            report.results.append(result)
    return report


def watch_test_files(paths: Iterable[str | Path], echo: Callable[[str], None], verbose: bool = False,
                     interval: float = WATCH_INTERVAL, sleep: Callable[[float], None] = time.sleep) -> None:
    """Run the tests, then again each time a test file or a rule file they use changes (is
    written, added or removed), until interrupted (KeyboardInterrupt: Ctrl-C).

    Modification times are polled, which needs nothing but the file system. The files are
    looked at before each run, so a change made while the tests run is seen after it.
    """
    paths = list(paths)
    changed: list[str] = []
    while True:
        if changed:
            echo(f"\n=== {datetime.now():%H:%M:%S} changed: {', '.join(changed)} ===")
        rulebooks = rulebooks_of(paths)
        seen = _stamps(paths, rulebooks)
        for line in run_test_files(paths).lines(verbose):
            echo(line)
        echo(f"(watching {len(seen)} files; Ctrl-C to stop)")
        changed = []
        while not changed:
            sleep(interval)
            now = _stamps(paths, rulebooks)
            changed = sorted(str(path) for path in set(now) | set(seen) if now.get(path) != seen.get(path))


def rulebooks_of(paths: Iterable[str | Path]) -> set[Path]:
    """The rule files and directories the test files under `paths` name."""
    found = set()
    for path in rule_files(paths):
        try:
            document, _ = read_test_file(str(path), path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if document is not None:
            found.add((path.parent / str(document["rulebook"])).resolve())
    return found


def _stamps(paths: Iterable[str | Path], rulebooks: Iterable[Path]) -> dict[Path, tuple[int, int] | None]:
    """Each watched file's (and directory's) modification time and size; None when it is gone."""
    stamps: dict[Path, tuple[int, int] | None] = {}
    for path in [*map(Path, paths), *rulebooks]:
        for item in [path, *rule_files([path])] if path.is_dir() else [path]:
            try:
                info = item.stat()
            except OSError:
                stamps[item] = None
                continue
            stamps[item] = (info.st_mtime_ns, info.st_size)
    return stamps
