"""Reading rule files from disk and keeping the last good rulebook running."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from rules.errors import RulebookInvalid, RuleError
from rules.rulebook import Rulebook, load_rulebook, rulebook_version
from ticketwarden import logs

log = logging.getLogger(__name__)
RULE_SUFFIXES = (".yaml", ".yml")


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every *.yaml / *.yml of a directory, in name order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in RULE_SUFFIXES and p.is_file()))
        else:
            found.append(path)
    return found


def read_sources(paths: Iterable[str | Path]) -> tuple[list[tuple[str, str]], list[RuleError]]:
    sources, errors = [], []
    for path in rule_files(paths):
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(RuleError(str(path), 1, (), f"cannot read: {exc}"))
    return sources, errors


def load_paths(paths: Iterable[str | Path], channels: Iterable[str] | None = None,
               environment_errors: bool = True) -> Rulebook:
    """Load one rulebook from files and directories; RulebookInvalid lists every error."""
    paths = list(paths)
    if not paths:
        raise RulebookInvalid([RuleError("(rules)", 1, (), "no rule files given (set TICKETWARDEN_RULES)")])
    sources, errors = read_sources(paths)
    if not sources and not errors:
        errors.append(RuleError(str(paths[0]), 1, (), "no *.yaml rule files found"))
    try:
        rulebook = load_rulebook(sources, channels=channels, environment_errors=environment_errors)
    except RulebookInvalid as exc:
        errors.extend(exc.errors)
        raise RulebookInvalid(errors) from None
    if errors:
        raise RulebookInvalid(errors)
    return rulebook


class RulebookHolder:
    """The rulebook in force. A reload that does not validate leaves the last good one running."""

    def __init__(self, paths: Iterable[str | Path], channels: Iterable[str] | None = None):
        self.paths = list(paths)
        self.channels = list(channels) if channels is not None else None
        self._lock = threading.Lock()
        self._current: Rulebook | None = None
        self._seen = ""  # fingerprint of the files last loaded (or rejected)
        self.last_errors: list[RuleError] = []
        self.listeners: list[Callable[[Rulebook], None]] = []

    @property
    def current(self) -> Rulebook | None:
        return self._current

    def reload(self) -> list[RuleError]:
        """Load the files again; returns the errors (empty when the new rulebook is in force)."""
        self._seen = self.fingerprint()
        try:
            rulebook = load_paths(self.paths, channels=self.channels)
        except RulebookInvalid as exc:
            self.last_errors = exc.errors
            for error in exc.errors:
                log.error("rulebook rejected: %s", error)
            if self._current is not None:
                log.error("keeping the last good rulebook (%d rules)", len(self._current.rules))
            return exc.errors
        with self._lock:
            self._current = rulebook
        logs.use_redaction(rulebook.redaction)
        self.last_errors = []
        log.info("rulebook %s loaded: %d rules from %s", rulebook.version, len(rulebook.rules),
                 ", ".join(rulebook.files))
        for warning in rulebook.warnings:
            log.warning("rulebook %s: %s", rulebook.version, warning)
        for listener in self.listeners:
            listener(rulebook)
        return []

    def fingerprint(self) -> str:
        """What the rule files hold now (names and contents), to notice edits."""
        sources, errors = read_sources(self.paths)
        return rulebook_version(sources) + ";".join(str(error) for error in errors)

    def reload_if_changed(self) -> bool:
        """Reload when a file was added, removed or edited since the last load; True if it was."""
        if self.fingerprint() == self._seen:
            return False
        log.info("rule files changed; reloading")
        self.reload()
        return True
