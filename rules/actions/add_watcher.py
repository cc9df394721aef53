"""`add_watcher`: add a person to the ticket's watchers."""

from __future__ import annotations

from typing import Any

from rules.actions import ActionSpec, CompileContext, Scope, compile_options, render_options
from rules.context import Where
from rules.schema import Option

OPTIONS = {"user": Option("template", required=True, doc="user id, login or display name")}


def compile_action(value: Any, where: Where, book: CompileContext) -> dict[str, Any] | None:
    return compile_options(OPTIONS, value, where, book)


def plan(compiled: dict[str, Any], scope: Scope) -> dict[str, Any]:
    return render_options(compiled, scope)


SPEC = ActionSpec(
    name="add_watcher", summary="Add a watcher to the ticket.", options=OPTIONS,
    compile=compile_action, plan=plan, example="- add_watcher: {user: quality.manager}",
)
