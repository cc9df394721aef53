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


class _LineConstructor(yaml.constructor.SafeConstructor):
    """What both loaders add: 1-based line numbers kept; duplicate keys refused, not overwritten."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> MappingNode:
        """A mapping with each key's line. A key written twice is refused; a key written once
        overrides the same key brought by a merge (`<<: *base`), as YAML's merge keys mean."""
        result = MappingNode()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)
        merged = len(node.value) - own  # flatten_mapping puts the merged pairs first
        written: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            if index < merged:
                if key in result:
                    continue  # of several merged mappings, the first that has the key wins
            elif key in written:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            else:
                written.add(key)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> SequenceNode:
        result = SequenceNode(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        result.flow = bool(node.flow_style)
        return result


class _LineLoader(_LineConstructor, yaml.SafeLoader):
    """The pure-Python loader: its syntax errors are the ones documented and tested."""


class _FastLineLoader(_LineConstructor, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser (several times faster), for files that parse."""


def _configure(loader: Any) -> None:
    # YAML 1.2 booleans: only true/false. YAML 1.1 also reads on/off/yes/no as booleans, which
    # would turn a rule's `on:` key into True.
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    loader.add_constructor("tag:yaml.org,2002:map", _LineConstructor.construct_mapping)
    loader.add_constructor("tag:yaml.org,2002:seq", _LineConstructor.construct_sequence)
    # Dates stay text: "2026-12-24" is validated where it is used, and times are never guessed.
    loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


_configure(_LineLoader)
_configure(_FastLineLoader)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


_INDENTATION_PROBLEMS = ("mapping values are not allowed", "expected <block end>", "did not find expected key",
                         "could not find expected ':'", "did not find expected '-'", "block sequence entries")
_INDENTATION_HINT = ("check the indentation of this line and the ones above it: a key's contents go deeper than "
                     "the key, keys of one mapping and items of one list line up, with spaces")


def parse_yaml(text: str) -> Any:
    """Parse one YAML document; syntax errors carry the line they were found on, and for the
    usual mistakes (indentation) what to look at."""
    try:
        return yaml.load(text, Loader=_FastLineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        pass  # read again by the pure-Python parser, whose messages (and their lines) are the documented ones
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = str(exc.problem or exc)
        if any(known in problem for known in _INDENTATION_PROBLEMS):
            problem = f"{problem}: {_INDENTATION_HINT}"
        elif problem.startswith("duplicate key"):
            problem = (f"{problem}: a key is written once per mapping (two conditions go in one list, "
                       f"`if: [a, b]`; to reuse a mapping and change a key, use `<<: *anchor` then the key)")
        raise YamlSyntaxError(line, problem) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from exc


def tab_lines(text: str) -> list[int]:
    """The lines indented with a tab, which YAML forbids (editors show them like spaces)."""
    return [number for number, line in enumerate(text.splitlines(), start=1)
            if "\t" in line[:len(line) - len(line.lstrip(" \t"))]]


def without_tabs(text: str) -> Any:
    """The document with indentation tabs read as 4, 2 or 8 spaces, whichever parses: the file's
    other mistakes can then be found too. YamlSyntaxError when none does."""
    failure: YamlSyntaxError | None = None
    for width in (4, 2, 8):
        lines = []
        for line in text.splitlines(keepends=True):
            body = line.lstrip(" \t")
            lines.append(line[:len(line) - len(body)].replace("\t", " " * width) + body)
        try:
            return parse_yaml("".join(lines))
        except YamlSyntaxError as exc:
            failure = failure or exc
    assert failure is not None
    raise failure


def line_of(container: Any, key: Any, default: int) -> int:
    """The line of `container[key]` when the loader recorded it, else `default`."""
    if isinstance(container, MappingNode):
        return container.key_lines.get(key, container.line)
    if isinstance(container, SequenceNode) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", default)
