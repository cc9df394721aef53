"""A corpus of typical mistakes, one per file (tests/rulebooks/mistakes): each is caught as
`check` catches it, at its line, with what is wrong and the likely fix. `# expect:` lines are
the errors, `# warn:` lines the warnings of a file that still loads; `# channels:` is the
environment `check` runs in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from tests.unit.test_rulebook_files import header

FOLDER = Path(__file__).resolve().parent.parent / "rulebooks" / "mistakes"
FILES = sorted(FOLDER.glob("*.yaml"))


def test_the_corpus_has_at_least_forty_mistakes():
    assert len(FILES) >= 40


def check_like(path: Path) -> tuple[list[str], list[str]]:
    """The errors and warnings `check` reports for a file, as `# expect:` / `# warn:` lines say them."""
    text = path.read_text()
    channels = header(text, "channels")
    try:
        book = load_rulebook([(path.name, text)], channels=channels[0].split(", ") if channels else [],
                             environment_errors=False)
    except RulebookInvalid as exc:
        return [str(error) for error in exc.errors], []
    return [], [str(warning) for warning in book.warnings]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_mistake_is_caught_with_its_line_and_fix(path: Path) -> None:
    text = path.read_text()
    assert len(header(text, "mistake")) == 1, "one mistake per file, said in a `# mistake:` line"
    expected_errors = [f"{path.name}:{line}" for line in header(text, "expect")]
    expected_warnings = [f"{path.name}:{line}" for line in header(text, "warn")]
    assert expected_errors or expected_warnings, f"{path.name} names nothing it expects"
    assert check_like(path) == (expected_errors, expected_warnings)


def test_what_check_warns_about_the_environment_serve_refuses():
    path = FOLDER / "channel-not-configured.yaml"
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([(path.name, path.read_text())], channels=["chat"])
    assert "undefined channel 'oncall' (configured: chat): set TICKETWARDEN_CHANNEL_ONCALL=<webhook URL>" \
        in str(caught.value)


def test_the_common_mistakes_in_the_docs_quote_what_check_says():
    """Each message quoted in docs/rules.md's "Common mistakes" is said by the corpus."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    section = docs.split("## Common mistakes", 1)[1].split("\n## ", 1)[0]
    said = "\n".join(line for path in FILES for line in path.read_text().splitlines()
                     if line.startswith(("# expect:", "# warn:")))
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| mistake")]
    assert len(rows) >= 15
    for row in rows:
        [message] = re.findall(r"`` (.+?) ``", row)
        assert message in said, f"{message!r} is not what check says"
