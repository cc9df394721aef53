"""Actions whose options are part of the language already but whose effects this version
does not perform: planning them is an error in the trace (nothing is written, nothing is
silently dropped)."""

from __future__ import annotations

from typing import Any

from rules.actions import PlanError, Scope


def not_available(name: str) -> Any:
    def plan(compiled: Any, scope: Scope) -> dict[str, Any]:
        raise PlanError(f"{name} is not performed by this version of ticketwarden; "
                        f"the rule's other actions ran")

    return plan
