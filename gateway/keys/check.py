"""Which stored values the key ring cannot open, found by opening every one of them.

A value sealed under a key the ring no longer has, or copied from another row (its binding names
another row, so it fails to open here), is found the same way: by trying. Opening is cheap next to
reading the rows, so a scan of every sealed column costs about as much as reading them once, in
batches, each in a short transaction of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from gateway.keys.sealed import SealedTable, sealed_tables
from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus

BATCH = 1000
CONNECTIONS = Connection.__tablename__


@dataclass
class Findings:
    # table -> rows holding at least one value that does not open
    rows: dict[str, int] = field(default_factory=dict)
    # connections that cannot be used for it: a value that does not open, or marked unreadable
    connections: set[uuid.UUID] = field(default_factory=set)


async def check(db: Database, keys: KeyRing) -> Findings:
    findings = Findings()
    for sealed in sealed_tables():
        failing = await _failing_rows(db, keys, sealed)
        if failing:
            findings.rows[sealed.name] = len(failing)
        if sealed.name == CONNECTIONS:
            findings.connections.update(failing)
    async with db.transaction() as session:
        marked = await session.scalars(
            select(Connection.id).where(
                Connection.status == ConnectionStatus.CREDENTIALS_UNREADABLE
            )
        )
        findings.connections.update(marked)
    return findings


async def _failing_rows(db: Database, keys: KeyRing, sealed: SealedTable) -> list[uuid.UUID]:
    failing: list[uuid.UUID] = []
    id_column = sealed.table.c.id
    after: uuid.UUID | None = None
    while True:
        query = select(id_column, *sealed.columns).order_by(id_column).limit(BATCH)
        if after is not None:
            query = query.where(id_column > after)
        async with db.transaction() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return failing
        for row in rows:
            values = row._mapping
            row_id = values[id_column.name]
            if not all(
                _opens(keys, values[column.name], Binding(sealed.name, column.name, str(row_id)))
                for column in sealed.columns
            ):
                failing.append(row_id)
        after = rows[-1]._mapping[id_column.name]


def _opens(keys: KeyRing, value: str | None, binding: Binding) -> bool:
    if value is None:
        return True
    try:
        keys.open(value, binding)
    except DecryptionError:
        return False
    return True
