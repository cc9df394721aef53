"""The generated parts of the rule reference (docs/rules.md), from the same declarations the
loader validates with, so the tables cannot drift from the code."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rules.actions import ACTIONS
from rules.jsm import FACTS as JSM_FACTS
from rules.schema import (
    CALENDAR,
    DEFAULT_ORIGINS,
    FIELD,
    HOLIDAYS,
    INDICATORS,
    MEASURE,
    ORIGIN,
    REDACTION,
    ROLE,
    RULE,
    SLA,
    STAFF,
    TARGET,
    TOP_LEVEL,
    VOCABULARY,
    Option,
)
from rules.templates import FILTERS

BEGIN = "<!-- generated: {name} -->"
END = "<!-- end generated -->"


def options_table(options: Mapping[str, Option]) -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, option in options.items():
        default = "required" if option.required else _default(option)
        kind = " \\| ".join(f"`{c}`" for c in option.choices) if option.type == "enum" else \
            _TYPE_DISPLAY.get(option.type, "mapping (below)" if option.type.startswith("section:") else option.type)
        meaning = option.doc + (f" (e.g. `{option.example}`)" if option.example else "")
        rows.append(f"| `{key}` | {kind} | {default} | {meaning} |")
    return "\n".join(rows)


_TYPE_DISPLAY = {
    "fields": "mapping name → field", "calendars": "mapping name → calendar", "slas": "mapping name → policy",
    "roles": "mapping name → role",
    "rules": "list of rules", "conditions": "condition or list", "triggers": "trigger or list",
    "actions": "list of actions", "targets": "list of targets", "hours": "`24x7` or mapping day → ranges",
    "list": "list of text", "text-or-list": "text or list",
}


def _default(option: Option) -> str:
    if option.default is None:
        return "—"
    if option.default in ([], {}, ""):
        return "empty"
    if isinstance(option.default, dict):
        return "below"
    shown = str(option.default).lower() if isinstance(option.default, bool) else str(option.default)
    return f"`{shown}`".replace("\n", "\\n")


def generated_blocks() -> dict[str, str]:
    """Each generated block of docs/rules.md by name."""
    blocks = {
        "sections": options_table(TOP_LEVEL),
        "field": options_table(FIELD),
        "vocabulary": options_table(VOCABULARY),
        "staff": options_table(STAFF),
        "role": options_table(ROLE),
        "calendar": options_table(CALENDAR),
        "holidays": options_table(HOLIDAYS),
        "sla": options_table(SLA),
        "target": options_table(TARGET),
        "rule": options_table(RULE),
        "origin": options_table(ORIGIN),
        "origins": "\n".join(["| value | meaning |", "|---|---|"]
                             + [f"| `{value}` | {meaning} |" for value, meaning in DEFAULT_ORIGINS.items()]),
        "indicators": options_table(INDICATORS),
        "measure": options_table(MEASURE),
        "redaction": options_table(REDACTION),
        "filters": "\n".join(["| filter | meaning |", "|---|---|"]
                             + [f"| `{name}` | {meaning} |" for name, meaning in FILTERS.items()]),
        "jsm": "\n".join(["| fact | meaning |", "|---|---|"]
                         + [f"| `{name}` | {meaning} |" for name, meaning in JSM_FACTS.items()]),
    }
    actions = []
    for name, spec in ACTIONS.items():
        actions.append(f"### `{name}`\n\n{spec.summary}\n")
        if spec.options is not None:
            actions.append(options_table(spec.options) + "\n")
        else:
            from rules.actions.set_fields import STANDARD_DOCS

            rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
            rows += [f"| `{key}` | template | — | {meaning} |" for key, meaning in STANDARD_DOCS.items()]
            rows.append("| any logical field | template | — | the tracker field it maps to in `fields` |")
            actions.append("\n".join(rows) + "\n")
        if spec.example:
            actions.append(f"```yaml\n{spec.example}\n```\n")
    blocks["actions"] = "\n".join(actions).rstrip()
    return blocks


def render_reference(document: str) -> str:
    """The document with every generated block replaced by its current content."""
    return replace_blocks(document, generated_blocks())


def replace_blocks(document: str, blocks: Mapping[str, str]) -> str:
    """The document with each named generated block (exactly one of each) holding `blocks`' content."""
    for name, content in blocks.items():
        pattern = re.compile(re.escape(BEGIN.format(name=name)) + r".*?" + re.escape(END), re.S)
        replacement = f"{BEGIN.format(name=name)}\n{content}\n{END}".replace("\\", "\\\\")
        document, count = pattern.subn(replacement, document)
        if count != 1:
            raise ValueError(f"docs/rules.md needs exactly one block {BEGIN.format(name=name)} ... {END}")
    return document


def messages_document() -> str:
    """docs/messages.md: every text ticketwarden writes itself, in each language it ships."""
    from rules.messages import LOCALES, MESSAGES, placeholders

    lines = [
        "# Messages", "",
        "The texts ticketwarden writes itself (record skeletons, default notes, the survey and report",
        "pages), in the languages it ships. The rulebook's `locale` chooses the language (a survey's",
        "`language` chooses its own); `messages:` replaces any of them with your own wording, keeping the",
        "same `{placeholders}`:", "",
        "```yaml", "messages:", "  en:", '    survey.invitation: "Tell us how we handled {key}: {url}"',
        "  es:", '    record.to_fill: "(pendiente)"', "```", "",
        "This file is generated from the catalogue (`make docs`).", "",
        "| message | placeholders | " + " | ".join(LOCALES) + " |",
        "|---|---|" + "---|" * len(LOCALES),
    ]
    for name, text in MESSAGES["en"].items():
        marks = ", ".join(f"`{{{p}}}`" for p in sorted(placeholders(text))) or "—"
        cells = [MESSAGES[locale].get(name, "").replace("|", "\\|").replace("\n", " ") for locale in LOCALES]
        lines.append(f"| `{name}` | {marks} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
