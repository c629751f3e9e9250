"""Re-sealing under the active key as an operator's confirmed act: the key status an operator
reads (``GET /v1/keys``, the console's keys page) and a bounded step of the rotation they start
(``POST /v1/keys/rotation``, the console's form), which ``gateway keys rotate`` runs to the end.

A step must be confirmed: ``confirm`` must echo the number of values still sealed under another
key than the active one, else ``ConfirmationRequired`` with that number in ``details.affected``
and nothing is re-sealed. A step re-seals about ``STEP_ROWS`` rows (``rotation.rotate_step``) and
is audited as ``keys.rotated`` with the caller, what it did and what is left: a large store is
rotated by repeating the step (each confirmed with the new count) until it says ``complete``.
Values that do not open with the key ring stay as they are, counted among those left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit import store as audit
from gateway.exceptions import ConfirmationRequired
from gateway.keys import rotation
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database

STEP_ROWS = 2000
ACTION = "keys.rotated"


@dataclass(frozen=True)
class KeyStatus:
    """How many stored values each key seals; ``to_reseal``: those under another key than the
    active one (a step's confirmation)."""

    active_key: str
    values_by_key: Mapping[str, int]
    keys_not_in_ring: tuple[str, ...]

    @property
    def to_reseal(self) -> int:
        return sum(n for key_id, n in self.values_by_key.items() if key_id != self.active_key)

    def json(self) -> dict[str, Any]:
        return {
            "active_key": self.active_key,
            "values_by_key": dict(sorted(self.values_by_key.items())),
            "keys_not_in_ring": list(self.keys_not_in_ring),
            "to_reseal": self.to_reseal,
        }


async def key_status(db: Database, keys: KeyRing) -> KeyStatus:
    counts = await rotation.usage(db)
    missing = tuple(sorted(key_id for key_id in counts if key_id not in keys.key_ids))
    return KeyStatus(keys.active_key_id, dict(counts), missing)


@dataclass(frozen=True)
class Step:
    """What one step did (``values``, ``rows``), whether it reached the end of every table
    (``complete``), rows holding a value that does not open, and the status after it."""

    values: int
    rows: int
    complete: bool
    unreadable_rows: int
    status: KeyStatus

    def json(self) -> dict[str, Any]:
        return {
            "resealed_values": self.values,
            "resealed_rows": self.rows,
            "complete": self.complete,
            "unreadable_rows": self.unreadable_rows,
            "status": self.status.json(),
        }


async def reseal_step(db: Database, keys: KeyRing, *, confirm: int | None, actor: str) -> Step:
    """One confirmed, audited step of re-sealing under the active key."""
    before = await key_status(db, keys)
    if confirm != before.to_reseal:
        raise ConfirmationRequired(
            f"{before.to_reseal} value(s) are sealed under another key than "
            f"{keys.active_key_id}: send confirm={before.to_reseal} to re-seal them",
            details={"affected": before.to_reseal},
        )
    report = await rotation.rotate_step(db, keys, STEP_ROWS)
    step = Step(
        values=report.values,
        rows=report.rotated,
        complete=report.complete,
        unreadable_rows=report.unreadable_rows(),
        status=await key_status(db, keys),
    )
    async with db.transaction() as session:
        audit.record(
            session,
            actor=actor,
            action=ACTION,
            connection_id=None,
            details={
                "active_key": keys.active_key_id,
                "confirmed": before.to_reseal,
                **{k: v for k, v in step.json().items() if k != "status"},
                "left": step.status.to_reseal,
            },
        )
    return step
