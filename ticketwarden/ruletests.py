"""`ticketwarden test`: find rule test files, load the rulebooks they name, run, report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rules.errors import RulebookInvalid, RuleError
from rules.testing import TestResult, build_cases, read_test_file, run_case
from ticketwarden.rulefiles import load_paths, rule_files


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
        text = path.read_text(encoding="utf-8")
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
