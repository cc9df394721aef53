"""Texts ticketwarden writes itself (record skeletons, default notes), per rulebook locale.

Rule authors write their own texts in templates; these are the few that come from the tool.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "record.kind.nonconformity": "Nonconformity",
        "record.kind.observation": "Observation",
        "record.heading": "{kind} (ISO 9001:2015 10.2), opened by ticketwarden",
        "record.clause": "Clause concerned",
        "record.severity": "Severity",
        "record.sources": "Source tickets",
        "record.opened_by": "Opened by rule",
        "record.description": "Description and evidence",
        "record.containment": "Containment / correction",
        "record.root_cause": "Root-cause analysis (five whys)",
        "record.why": "Why? (to fill in)",
        "record.corrective_action": "Corrective action",
        "record.owner": "Owner",
        "record.due": "Due",
        "record.actions": "Actions",
        "record.effectiveness": "Effectiveness review",
        "record.result": "Result",
        "record.to_fill": "(to fill in)",
        "record.to_assign": "(to assign)",
        "record.another_source": "Another occurrence of this cause: {key} ({url}).",
        "escalate.again": "Escalated again from {key} ({url}).",
    },
    "es": {
        "record.kind.nonconformity": "No conformidad",
        "record.kind.observation": "Observación",
        "record.heading": "{kind} (ISO 9001:2015 10.2), abierta por ticketwarden",
        "record.clause": "Requisito afectado",
        "record.severity": "Gravedad",
        "record.sources": "Tickets de origen",
        "record.opened_by": "Abierta por la regla",
        "record.description": "Descripción y evidencia",
        "record.containment": "Contención / corrección",
        "record.root_cause": "Análisis de causa raíz (cinco porqués)",
        "record.why": "¿Por qué? (a completar)",
        "record.corrective_action": "Acción correctiva",
        "record.owner": "Responsable",
        "record.due": "Vence",
        "record.actions": "Acciones",
        "record.effectiveness": "Revisión de eficacia",
        "record.result": "Resultado",
        "record.to_fill": "(a completar)",
        "record.to_assign": "(a asignar)",
        "record.another_source": "Otra ocurrencia de esta causa: {key} ({url}).",
        "escalate.again": "Escalado de nuevo desde {key} ({url}).",
    },
}


def message(locale: str, name: str, **values: Any) -> str:
    """The text named `name` in `locale` (English when the locale lacks it), filled in."""
    text = MESSAGES.get(locale, {}).get(name) or MESSAGES["en"][name]
    return text.format(**values) if values else text
