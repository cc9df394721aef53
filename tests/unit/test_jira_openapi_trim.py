"""The trimmed Jira OpenAPI document the fake checks against, and the script that makes it.

Why: the repository carries only the part of Atlassian's document the fake serves. These tests
keep that part complete (every served route is in it), exact (trimming it again changes nothing)
and the trim itself honest (it follows references to the end and drops the rest).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.fakejira import openapi
from tests.fakejira.fixtures import checked_fake_jira
from tests.fakejira.openapi import DEFAULT_DOCUMENT, DOCUMENT_ENV, REGENERATE, ROOT, missing_document_message
from tests.fakejira.trim_openapi import (
    UnknownOperation,
    fake_app,
    main,
    match_operations,
    render,
    served_operations,
    served_routes,
    trim,
)

SCHEMAS = "#/components/schemas/"


def _ok(schema: str, tag: str) -> dict[str, Any]:
    """An operation answering 200 with `schema`."""
    return {"tags": [tag], "responses": {"200": {"description": "OK", "content": {
        "application/json": {"schema": {"$ref": SCHEMAS + schema}}}}}}


def synthetic() -> dict[str, Any]:
    """A small document: one served GET whose schema chain is two deep, cyclic and discriminated."""
    thing = _ok("Thing", "Served")
    thing["parameters"] = [{"$ref": "#/components/parameters/Expand"}]
    return {
        "openapi": "3.0.1",
        "info": {"title": "Synthetic", "version": "1", "license": {"name": "Apache 2.0"}},
        "servers": [{"url": "https://example.atlassian.net"}],
        "externalDocs": {"url": "https://example.com/docs"},
        "x-atlassian-narrative": {"documents": []},
        "tags": [{"name": "Served"}, {"name": "Unserved"}],
        "paths": {
            "/rest/api/3/thing/{thingId}": {
                "parameters": [{"$ref": "#/components/parameters/ThingId"}],
                "get": thing,
                "delete": _ok("Deleted", "Unserved"),
            },
            "/rest/api/3/other": {"get": _ok("Other", "Unserved")},
        },
        "components": {
            "schemas": {
                "Thing": {"properties": {"owner": {"$ref": SCHEMAS + "Owner"}, "kind": {"$ref": SCHEMAS + "Kind"}}},
                "Owner": {"properties": {"group": {"$ref": SCHEMAS + "Group"}, "boss": {"$ref": SCHEMAS + "Owner"}}},
                "Group": {"properties": {"members": {"type": "array", "items": {"$ref": SCHEMAS + "Owner"}}}},
                "Kind": {"discriminator": {"propertyName": "type", "mapping": {"a": SCHEMAS + "KindA"}}},
                "KindA": {"properties": {"type": {"type": "string"}}},
                "Id": {"type": "string"},
                "Deleted": {"type": "object"},
                "Other": {"properties": {"thing": {"$ref": SCHEMAS + "Thing"}}},
                "Unused": {"type": "object"},
            },
            "parameters": {
                "ThingId": {"name": "thingId", "in": "path", "required": True, "schema": {"$ref": SCHEMAS + "Id"}},
                "Expand": {"name": "expand", "in": "query", "schema": {"type": "string"}},
                "Unused": {"name": "unused", "in": "query", "schema": {"type": "string"}},
            },
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
    }


# -- the pure trim ------------------------------------------------------------------------------------

def test_the_trim_keeps_served_operations_and_everything_they_reference() -> None:
    document = synthetic()
    trimmed = trim(document, [("get", "/rest/api/3/thing/{thingId}")])

    assert trimmed["paths"] == {"/rest/api/3/thing/{thingId}": {
        "parameters": document["paths"]["/rest/api/3/thing/{thingId}"]["parameters"],
        "get": document["paths"]["/rest/api/3/thing/{thingId}"]["get"]}}
    components = trimmed["components"]
    # Thing -> Owner -> Group -> Owner (a cycle), Owner -> Owner, Kind -> KindA by mapping only,
    # and the path item's own parameter -> Id.
    assert sorted(components["schemas"]) == ["Group", "Id", "Kind", "KindA", "Owner", "Thing"]
    assert sorted(components["parameters"]) == ["Expand", "ThingId"]
    assert components["securitySchemes"] == document["components"]["securitySchemes"]
    assert trimmed["tags"] == [{"name": "Served"}]
    assert [key for key in trimmed if key not in ("paths", "components", "tags")] == ["openapi", "info", "servers"]
    assert document == synthetic(), "the input is left as it was"


def test_the_trim_keeps_only_the_served_methods_of_a_path() -> None:
    trimmed = trim(synthetic(), [("DELETE", "/rest/api/3/thing/{thingId}")])
    assert sorted(trimmed["paths"]["/rest/api/3/thing/{thingId}"]) == ["delete", "parameters"]
    assert sorted(trimmed["components"]["schemas"]) == ["Deleted", "Id"]


def test_the_trim_refuses_an_operation_the_document_lacks() -> None:
    with pytest.raises(UnknownOperation, match=r"PUT /rest/api/3/thing/\{thingId\}"):
        trim(synthetic(), [("put", "/rest/api/3/thing/{thingId}")])


def test_the_trim_refuses_a_dangling_or_foreign_reference() -> None:
    dangling = synthetic()
    dangling["components"]["schemas"]["Thing"]["properties"]["gone"] = {"$ref": SCHEMAS + "Gone"}
    with pytest.raises(UnknownOperation, match="Gone"):
        trim(dangling, [("get", "/rest/api/3/thing/{thingId}")])
    foreign = synthetic()
    foreign["components"]["schemas"]["Thing"]["properties"]["far"] = {"$ref": "other.json#/Far"}
    with pytest.raises(UnknownOperation, match=r"other\.json"):
        trim(foreign, [("get", "/rest/api/3/thing/{thingId}")])


def test_the_output_does_not_depend_on_the_input_order() -> None:
    document = synthetic()
    reordered = json.loads(json.dumps(document, sort_keys=True))
    reordered["components"] = dict(reversed(list(copy.deepcopy(document["components"]).items())))
    operations = [("get", "/rest/api/3/thing/{thingId}")]
    assert render(trim(document, operations)) == render(trim(reordered, operations))
    assert render(trim(document, operations)) == render(trim(document, list(reversed(operations))))


# -- matching the fake's routes to templates ------------------------------------------------------------

def test_routes_match_templates_by_shape_and_method() -> None:
    paths = {"/rest/api/3/field/{fieldId}": {"put": {}}, "/rest/api/3/field/{id}": {"delete": {}},
             "/rest/api/3/field/search": {"get": {}}}
    routes = [("DELETE", "/rest/api/3/field/<ref>"), ("get", "/rest/api/3/field/search")]
    assert match_operations(paths, routes) == [("get", "/rest/api/3/field/search"),
                                               ("delete", "/rest/api/3/field/{id}")]


def test_a_route_without_a_counterpart_is_named() -> None:
    paths = {"/rest/api/3/issue/{issueIdOrKey}": {"get": {}}}
    with pytest.raises(UnknownOperation, match=r"POST /rest/api/3/issue/<ref> \(no counterpart\)"):
        match_operations(paths, [("get", "/rest/api/3/issue/<ref>"), ("post", "/rest/api/3/issue/<ref>")])


# -- the committed copy -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app() -> Flask:
    return fake_app()


@pytest.fixture(scope="module")
def committed_text() -> str:
    if not DEFAULT_DOCUMENT.is_file():
        pytest.fail(missing_document_message(DEFAULT_DOCUMENT), pytrace=False)
    return DEFAULT_DOCUMENT.read_text(encoding="utf-8")


def test_the_fake_serves_routes(app: Flask) -> None:
    routes = served_routes(app)
    assert ("get", "/rest/api/3/issue/<ref>") in routes and ("post", "/rest/api/3/search/jql") in routes
    assert not any(method in ("head", "options") for method, _ in routes)


def test_every_route_the_fake_serves_is_in_the_committed_copy(app: Flask, committed_text: str) -> None:
    try:
        match_operations(json.loads(committed_text)["paths"], served_routes(app))
    except UnknownOperation as error:
        pytest.fail(f"{DEFAULT_DOCUMENT.relative_to(ROOT)} lacks what the fake serves; regenerate it "
                    f"(see its README.md): {REGENERATE}\n{error}", pytrace=False)


def test_the_committed_copy_is_exactly_what_the_trim_keeps(committed_text: str) -> None:
    document = json.loads(committed_text)
    again = render(trim(document, served_operations(document)))
    if again != committed_text:  # compared by hand: pytest's diff of 300 kB strings is unreadable
        first = next((number for number, (a, b) in enumerate(zip(again.splitlines(), committed_text.splitlines(),
                                                                  strict=False), start=1) if a != b), None)
        pytest.fail(f"trimming {DEFAULT_DOCUMENT.relative_to(ROOT)} again changes it (first at line {first}); "
                    f"regenerate it: {REGENERATE}", pytrace=False)


def test_the_committed_copy_is_in_the_repository_and_a_small_part_of_the_whole() -> None:
    assert DEFAULT_DOCUMENT.resolve().is_relative_to(ROOT)
    assert DEFAULT_DOCUMENT.stat().st_size < 500_000


def test_the_script_rewrites_the_committed_copy_unchanged(committed_text: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "nested" / "trimmed.json"
    assert main([str(DEFAULT_DOCUMENT), "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == committed_text
    assert "paths" in capsys.readouterr().out


def test_the_script_fails_clearly_when_a_served_route_is_missing(committed_text: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(committed_text)
    del document["paths"]["/rest/api/3/issue/{issueIdOrKey}/watchers"]["post"]
    source, output = tmp_path / "full.json", tmp_path / "trimmed.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    assert main([str(source), "--output", str(output)]) == 1
    assert "POST /rest/api/3/issue/<ref>/watchers (no counterpart)" in capsys.readouterr().err
    assert not output.exists()


# -- a missing document -------------------------------------------------------------------------------------

@pytest.mark.parametrize("ci", ["", "1"])
def test_a_missing_document_fails_never_skips(ci: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(DOCUMENT_ENV, str(tmp_path / "gone.json"))
    with pytest.raises(pytest.fail.Exception, match=f"gone.json.*{DOCUMENT_ENV}"):
        next(checked_fake_jira())


def test_a_missing_committed_copy_says_how_to_regenerate_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DOCUMENT_ENV, raising=False)
    assert openapi.document_path() == DEFAULT_DOCUMENT
    message = missing_document_message(DEFAULT_DOCUMENT)
    assert str(DEFAULT_DOCUMENT.relative_to(ROOT)) in message and REGENERATE in message
    assert "python -m tests.fakejira.trim_openapi" in REGENERATE
