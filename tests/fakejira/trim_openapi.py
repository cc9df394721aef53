"""Cuts Atlassian's Jira Cloud REST OpenAPI document down to what the fake Jira serves.

Why: the full document is 2.3 MB and 400 paths, almost all of which the fake never answers. The
repository carries only the operations the fake serves and what they reference, so a fresh clone
runs the suite with nothing beside it, and a new download shows up as a readable diff.

    .venv/bin/python -m tests.fakejira.trim_openapi FULL_DOWNLOAD.json [--output PATH]

The served operations come from the fake's own Flask app (tests/fakejira/app.py), so the list
cannot drift from what the fake does; a route with no counterpart in the document is an error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.fakejira.openapi import DEFAULT_DOCUMENT, ROOT

if TYPE_CHECKING:
    from flask import Flask

Operation = tuple[str, str]  # ("get", "/rest/api/3/issue/{issueIdOrKey}")

V3 = "/rest/api/3"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
AUTOMATIC_METHODS = frozenset({"HEAD", "OPTIONS"})  # Flask answers these for every rule by itself
KEPT_TOP_LEVEL = ("openapi", "info", "servers", "security")  # what openapi-core reads besides paths
ALWAYS_KEPT_COMPONENTS = ("securitySchemes",)  # named by operations' `security`, not by $ref
FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?[^<>]+>")
TEMPLATE_VARIABLE = re.compile(r"\{[^{}]+\}")


class UnknownOperation(LookupError):
    """The fake serves something the document does not describe (or describes ambiguously)."""


# -- the pure part: document + operations -> trimmed document ---------------------------------------

def trim(document: Mapping[str, Any], operations: Iterable[Operation]) -> dict[str, Any]:
    """The document with only `operations` (method, template) and what they reference.

    Kept: the top-level keys openapi-core reads, each served path with only its served methods
    (plus the path item's own keys, e.g. shared parameters), every component reached from those
    by $ref or discriminator mapping (followed to the end, cycles included), all security schemes
    (operations name them without $ref), and the tags the kept operations use. Dropped: the rest,
    including the top-level externalDocs and x-atlassian-narrative, which no check reads.
    """
    paths = _kept_paths(document.get("paths", {}), operations)
    components = document.get("components", {})
    trimmed: dict[str, Any] = {key: document[key] for key in KEPT_TOP_LEVEL if key in document}
    trimmed["paths"] = paths
    kept = _kept_components(components, [paths, *(components.get(kind, {}) for kind in ALWAYS_KEPT_COMPONENTS)])
    for kind in ALWAYS_KEPT_COMPONENTS:
        if kind in components:
            kept[kind] = dict(components[kind])
    if kept:
        trimmed["components"] = kept
    tags = _used_tags(document.get("tags", []), paths)
    if tags:
        trimmed["tags"] = tags
    return trimmed


def render(document: Mapping[str, Any]) -> str:
    """Stable, diff-friendly JSON: sorted keys, two-space indent, UTF-8 text, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _kept_paths(paths: Mapping[str, Any], operations: Iterable[Operation]) -> dict[str, Any]:
    wanted: dict[str, set[str]] = {}
    for method, template in operations:
        wanted.setdefault(template, set()).add(method.lower())
    missing = sorted(f"{method.upper()} {template}" for template, methods in wanted.items() for method in methods
                     if method not in paths.get(template, {}))
    if missing:
        raise UnknownOperation("not in the document: " + ", ".join(missing))
    return {template: {key: value for key, value in paths[template].items()
                       if key not in HTTP_METHODS or key in methods}
            for template, methods in wanted.items()}


def _kept_components(components: Mapping[str, Any], roots: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Every component reachable from `roots`; a set of visited names makes cycles harmless."""
    kept: dict[str, dict[str, Any]] = {}
    pending = [ref for root in roots for ref in _references(root)]
    while pending:
        kind, name = _component_of(pending.pop())
        if name in kept.get(kind, {}):
            continue
        try:
            target = components[kind][name]
        except KeyError:
            raise UnknownOperation(f"dangling reference #/components/{kind}/{name}") from None
        kept.setdefault(kind, {})[name] = target
        pending.extend(_references(target))
    return kept


def _references(node: Any) -> Iterator[str]:
    """The local references written anywhere inside `node`: `$ref`s and discriminator mappings."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key == "discriminator" and isinstance(value, Mapping):
                yield from (ref for ref in (value.get("mapping") or {}).values() if isinstance(ref, str))
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _component_of(ref: str) -> tuple[str, str]:
    """`#/components/schemas/Foo` (or a pointer inside it) -> ("schemas", "Foo")."""
    parts = [part.replace("~1", "/").replace("~0", "~") for part in ref.split("/")]
    if len(parts) < 4 or parts[:2] != ["#", "components"]:
        raise UnknownOperation(f"unsupported reference {ref!r}: only #/components/... is followed")
    return parts[2], parts[3]


def _used_tags(tags: Sequence[Mapping[str, Any]], paths: Mapping[str, Any]) -> list[dict[str, Any]]:
    used = {tag for item in paths.values() for method, operation in item.items() if method in HTTP_METHODS
            for tag in operation.get("tags", [])}
    return [dict(tag) for tag in tags if tag.get("name") in used]


# -- matching the fake's routes to the document's templates ----------------------------------------

def shape(path: str) -> str:
    """A path with its variables blanked, so /issue/<ref> and /issue/{issueIdOrKey} compare equal."""
    return TEMPLATE_VARIABLE.sub("{}", FLASK_VARIABLE.sub("{}", path))


def match_operations(paths: Mapping[str, Any], routes: Iterable[Operation]) -> list[Operation]:
    """The document's (method, template) for each served (method, v3 path); all misses at once."""
    by_shape: dict[str, list[str]] = {}
    for template in paths:
        by_shape.setdefault(shape(template), []).append(template)
    found: set[Operation] = set()
    missing: list[str] = []
    for method, path in routes:
        method = method.lower()
        candidates = [t for t in by_shape.get(shape(path), []) if method in paths[t]]
        if len(candidates) == 1:
            found.add((method, candidates[0]))
        else:
            why = "no counterpart" if not candidates else "several counterparts: " + ", ".join(candidates)
            missing.append(f"{method.upper()} {path} ({why})")
    if missing:
        raise UnknownOperation("the fake serves what the document does not describe:\n  "
                               + "\n  ".join(sorted(missing)))
    return sorted(found, key=lambda op: (op[1], op[0]))


def served_routes(app: Flask) -> list[Operation]:
    """(method, /rest/api/3 path with Flask variables) for every API rule of the fake's app."""
    from tests.fakejira.app import API

    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/"):
            path = V3 + rule.rule[len(API):]
            routes.update((method.lower(), path) for method in (rule.methods or ()) if method not in AUTOMATIC_METHODS)
    return sorted(routes, key=lambda op: (op[1], op[0]))


def fake_app() -> Flask:
    """The fake's Flask app, built from a FakeJira that is never started (no port, no document)."""
    from tests.fakejira.app import create_app
    from tests.fakejira.server import FakeJira

    return create_app(FakeJira(validate=False))


def served_operations(document: Mapping[str, Any]) -> list[Operation]:
    """The document's operations the fake serves today."""
    return match_operations(document.get("paths", {}), served_routes(fake_app()))


# -- command line -----------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Read a full download, write the trimmed copy; exit 1 with the reason if a route is missing."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakejira.trim_openapi", description=__doc__.split("\n")[0])
    parser.add_argument("document", type=Path, help="the full Jira Cloud platform v3 OpenAPI document (JSON)")
    parser.add_argument("--output", type=Path, default=DEFAULT_DOCUMENT,
                        help=f"where to write the trimmed copy (default: {DEFAULT_DOCUMENT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    document = json.loads(args.document.read_text(encoding="utf-8"))
    try:
        trimmed = trim(document, served_operations(document))
    except UnknownOperation as error:
        print(f"{args.document}: {error}", file=sys.stderr)
        return 1
    text = render(trimmed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"{args.output}: {len(trimmed['paths'])} paths, "
          f"{len(trimmed.get('components', {}).get('schemas', {}))} schemas, {len(text.encode()):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
