"""YAML reading that remembers line numbers.

Every mapping and sequence comes back as a `Node` subclass of dict/list carrying the line of
each key or item, so validation can report `file:line` for any value, not just the first.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class MappingNode(dict):  # type: ignore[type-arg]
    line: int
    key_lines: dict[Any, int]


class SequenceNode(list):  # type: ignore[type-arg]
    line: int
    item_lines: list[int]
    flow: bool  # written inline, [a, b]: its commas split items


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps 1-based line numbers; duplicate keys are refused, not overwritten."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> MappingNode:
        result = MappingNode()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> SequenceNode:
        result = SequenceNode(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        result.flow = bool(node.flow_style)
        return result


# YAML 1.2 booleans: only true/false. YAML 1.1 also reads on/off/yes/no as booleans, which
# would turn a rule's `on:` key into True.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)
# Dates stay text: "2026-12-24" is validated where it is used, and times are never guessed.
_LineLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)  # type: ignore[arg-type]
)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


def parse_yaml(text: str) -> Any:
    """Parse one YAML document; syntax errors carry the line they were found on."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(line, f"{exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from exc


def line_of(container: Any, key: Any, default: int) -> int:
    """The line of `container[key]` when the loader recorded it, else `default`."""
    if isinstance(container, MappingNode):
        return container.key_lines.get(key, container.line)
    if isinstance(container, SequenceNode) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", default)
