"""Where a check is in a rule file, so every error can say file:line and the path to the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rules.errors import RuleError
from rules.source import line_of


@dataclass
class Where:
    """A position in a rule file; `child` walks down, `error` records a problem there."""

    file: str
    line: int
    path: tuple[str | int, ...] = ()
    errors: list[RuleError] = field(default_factory=list)
    warnings: list[RuleError] = field(default_factory=list)  # loads, but `check` says why it may be wrong

    def child(self, container: Any, key: str | int) -> "Where":
        return Where(self.file, line_of(container, key, self.line), (*self.path, key), self.errors, self.warnings)

    def error(self, message: str) -> None:
        self.errors.append(RuleError(self.file, self.line, self.path, message))

    def warn(self, message: str) -> None:
        self.warnings.append(RuleError(self.file, self.line, self.path, message))
