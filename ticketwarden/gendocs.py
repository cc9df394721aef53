"""Regenerate the generated parts of the docs: `python -m ticketwarden.gendocs` (`make docs`)."""

from __future__ import annotations

import json
from pathlib import Path

from rules.reference import messages_document, render_reference
from rules.schema import json_schema

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "rules.md"
SCHEMA = ROOT / "schema" / "rulebook.schema.json"
MESSAGES = ROOT / "docs" / "messages.md"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    REFERENCE.write_text(render_reference(REFERENCE.read_text()))
    MESSAGES.write_text(messages_document())
    SCHEMA.parent.mkdir(exist_ok=True)
    SCHEMA.write_text(schema_text())
    print(f"wrote {REFERENCE.relative_to(ROOT)} and {SCHEMA.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
