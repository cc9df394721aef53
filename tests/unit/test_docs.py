"""The rule reference documents every action and every option the code accepts."""

import re

from rules.actions import ACTIONS
from rules.actions.set_fields import STANDARD
from rules.schema import TRIGGERS
from tests.conftest import ROOT

REFERENCE = (ROOT / "docs" / "rules.md").read_text()


def section(action: str) -> str:
    match = re.search(rf"^### `{action}`\n(.*?)(?=^### |^## |\Z)", REFERENCE, re.S | re.M)
    assert match, f"docs/rules.md has no section for action {action!r}"
    return match.group(1)


def test_every_action_has_a_table_of_its_options():
    for name, spec in ACTIONS.items():
        text = section(name)
        assert "| key | type | default | meaning |" in text
        keys = list(spec.options) if spec.options is not None else list(STANDARD)
        for key in keys:
            assert f"| `{key}` |" in text, f"{name}: option {key!r} is not documented"
        for key, option in (spec.options or {}).items():
            row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
            assert f"| {option.type} |" in row, f"{name}.{key}: documented type differs from {option.type}"


def test_every_trigger_is_documented():
    for trigger in TRIGGERS:
        assert f"| `{trigger}` |" in REFERENCE


def test_readme_shows_the_example_rulebook_as_shipped():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "rulebooks" / "redmine-support.yaml").read_text()
    shown = re.search(r"```yaml\n(version: 1\n.*?)```", readme, re.S)
    assert shown, "README.md shows no rule file"
    body = example[example.index("version: 1"):]
    assert shown.group(1) == body
