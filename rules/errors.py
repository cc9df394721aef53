"""Load errors that point at the exact place in the admin's file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleError:
    """One problem in a rule file: where it is and what is wrong."""

    file: str
    line: int
    path: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        where = " → ".join(str(part) for part in self.path)
        prefix = f"{self.file}:{self.line}: "
        return f"{prefix}{where}: {self.message}" if where else f"{prefix}{self.message}"


class RulebookInvalid(Exception):
    """Raised with every error of a rulebook at once, never just the first."""

    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))
