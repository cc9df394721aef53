"""Regenerate the generated parts of the docs: `python -m ticketwarden.gendocs` (`make docs`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

from rules import testing
from rules.reference import messages_document, options_table, render_reference, replace_blocks
from rules.schema import Option, json_schema

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "rules.md"
SCHEMA = ROOT / "schema" / "rulebook.schema.json"
TESTS_SCHEMA = ROOT / "schema" / "ruletests.schema.json"
MESSAGES = ROOT / "docs" / "messages.md"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def rule_test_schema_text() -> str:
    """The JSON Schema of rule test files, from the declarations the test runner reads them with."""
    return json.dumps(testing.json_schema(), indent=2, ensure_ascii=False) + "\n"


def rule_test_blocks() -> dict[str, str]:
    """The tables of docs/rules.md's "Rule tests", one per mapping of a test file."""
    blocks = {f"test-{name}": _test_table(options) for name, options in testing.SECTIONS.items()
              if name not in ("jsm-cycle", "comment")}
    blocks["test-changes"] += "\n| {} | {} | — | {} |".format(
        testing.LOGICAL_CHANGE[0], "[old, new]", testing.LOGICAL_CHANGE[1])
    return blocks


def _test_table(options: Mapping[str, Option]) -> str:
    named = {key: dataclasses.replace(option, type=testing.TYPE_NAMES.get(option.type, option.type))
             for key, option in options.items()}
    return options_table(named)


def render_rule_tests(document: str) -> str:
    """docs/rules.md with the rule-test tables replaced by their current content."""
    return replace_blocks(document, rule_test_blocks())


def main() -> None:
    REFERENCE.write_text(render_rule_tests(render_reference(REFERENCE.read_text())))
    MESSAGES.write_text(messages_document())
    SCHEMA.parent.mkdir(exist_ok=True)
    SCHEMA.write_text(schema_text())
    TESTS_SCHEMA.write_text(rule_test_schema_text())
    print(f"wrote {REFERENCE.relative_to(ROOT)}, {SCHEMA.relative_to(ROOT)} and {TESTS_SCHEMA.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
