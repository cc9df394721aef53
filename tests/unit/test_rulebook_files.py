"""One test over folders of rule files: every invalid file fails with exactly the errors its
`# expect:` lines name (file:line and message), every valid file loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook

FOLDER = Path(__file__).resolve().parent.parent / "rulebooks"


def header(text: str, key: str) -> list[str]:
    return [line.split(f"# {key}:", 1)[1].strip() for line in text.splitlines() if line.startswith(f"# {key}:")]


@pytest.mark.parametrize("path", sorted((FOLDER / "invalid").glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_rule_file(path: Path) -> None:
    text = path.read_text()
    expected = [f"{path.name}:{line}" for line in header(text, "expect")]
    assert expected, f"{path.name} names no expected error"
    channels = header(text, "channels")
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([(path.name, text)], channels=channels[0].split(", ") if channels else None)
    assert [str(error) for error in caught.value.errors] == expected


@pytest.mark.parametrize("path", sorted((FOLDER / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_rule_file(path: Path) -> None:
    book = load_rulebook([(path.name, path.read_text())], channels=["chat"])
    assert book.rules and len(book.version) == 12
