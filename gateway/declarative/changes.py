"""What ``gateway apply`` changes (or, with ``--dry-run``, would change), and how it is printed.

Secrets never appear: a changed key or signing secret is shown as ``***`` with where the new one
comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["create", "update", "disable", "delete"]
_MARKS: dict[Action, str] = {"create": "+", "update": "~", "disable": "-", "delete": "-"}


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    """One client or subscription created, updated field by field, disabled or deleted."""

    action: Action
    subject: str
    fields: tuple[FieldChange, ...] = ()

    def lines(self) -> list[str]:
        head = f"{_MARKS[self.action]} {self.action} {self.subject}"
        body = [
            f"    {item.name}: {_shown(item.before)} -> {_shown(item.after)}"
            if self.action == "update"
            else f"    {item.name}: {_shown(item.after)}"
            for item in self.fields
        ]
        return [head, *body]

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "subject": self.subject,
            "fields": {f.name: {"before": f.before, "after": f.after} for f in self.fields},
        }


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    """The fields of ``after`` whose value differs from ``before``'s, in ``after``'s order."""
    return tuple(
        FieldChange(name, before.get(name), value)
        for name, value in after.items()
        if before.get(name) != value
    )


def _shown(value: Any) -> str:
    return value if isinstance(value, str) and value.startswith("***") else json.dumps(value)
