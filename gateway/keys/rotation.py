"""Re-sealing every secret at rest under the active key, while the service keeps serving.

A pass walks each table with sealed columns in id order (a keyset cursor, so it is resumable: a new
run simply finds what is still sealed under another key). Each batch is one short transaction that
locks its rows (``FOR UPDATE SKIP LOCKED``: rows a refresh holds are left for the next pass), opens
each value with whichever key sealed it and seals it again under the active key, the same plaintext
bound to the same row. The update compares and swaps on the old ciphertext and never touches
``token_version``, so a refresh in flight keeps its compare-and-swap and its fresher tokens win.
A value that does not open (under a key the ring lacks, or copied from another row) is left as it
is, and the report names its row; the rest of the row and the pass go on.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys.sealed import SealedTable, sealed_tables
from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.kit.db import Database

BATCH = 200
MAX_PASSES = 10

Progress = Callable[[int], None]


@dataclass
class Report:
    rotated: int = 0  # rows
    values: int = 0  # values re-sealed (a row holds one or more)
    # Whether the pass reached every table's end (a bounded step may stop before).
    complete: bool = True
    passes_with_leftovers: int = 0
    remaining: dict[str, int] = field(default_factory=dict)  # key id -> values still under it
    # table -> ids of the rows with a value that does not open (left as they are)
    unreadable: dict[str, set[uuid.UUID]] = field(default_factory=dict)

    def unreadable_rows(self) -> int:
        return sum(len(ids) for ids in self.unreadable.values())


def _stale(sealed: SealedTable, active: str) -> object:
    """Rows with at least one value sealed under a key other than ``active``."""
    prefix = f"v1.{active}.%"
    return or_(*(and_(column.is_not(None), column.not_like(prefix)) for column in sealed.columns))


async def count_stale(db: Database, keys: KeyRing) -> int:
    """Rows that still hold a value sealed under another key than the active one."""
    total = 0
    async with db.transaction() as session:
        for sealed in sealed_tables():
            stale = _stale(sealed, keys.active_key_id)
            total += (
                await session.scalar(
                    select(func.count()).select_from(sealed.table).where(stale)  # type: ignore[arg-type]
                )
                or 0
            )
    return total


async def usage(db: Database) -> Counter[str]:
    """How many values each key id seals, over every sealed column."""
    counts: Counter[str] = Counter()
    async with db.transaction() as session:
        for sealed in sealed_tables():
            for column in sealed.columns:
                key_id = func.split_part(column, ".", 2)
                rows = await session.execute(
                    select(key_id, func.count()).where(column.is_not(None)).group_by(key_id)
                )
                for found, count in rows:
                    counts[found] += count
    return counts


async def rotate_step(db: Database, keys: KeyRing, max_rows: int) -> Report:
    """One bounded step of a rotation: re-seal under the active key, table after table, until
    ``max_rows`` stale rows were looked at (those re-sealed, and those left that do not open). The
    report says whether the step reached every table's end; the next step goes on from what is
    still stale, so steps may be taken one after another, by any replica, or mixed with
    ``rotate``. It leaves ``remaining`` empty (``usage`` counts it)."""
    report = Report()
    looked_at = 0
    for sealed in sealed_tables():
        left = max_rows - looked_at
        if left <= 0:
            report.complete = False
            break
        skipped = report.unreadable.setdefault(sealed.name, set())
        seen, report.complete = await _rotate_table(
            db, keys, sealed, skipped, report, None, budget=left
        )
        looked_at += seen
    report.unreadable = {name: ids for name, ids in report.unreadable.items() if ids}
    return report


async def rotate(db: Database, keys: KeyRing, progress: Progress | None = None) -> Report:
    """Re-seal everything under the active key.

    Rows locked by a refresh at the time are skipped and taken by the next pass; after
    ``MAX_PASSES`` the report says what is left (for example when a replica still seals with an
    old key because it has not been given the new active key yet).
    """
    report = Report()
    for _ in range(MAX_PASSES):
        for sealed in sealed_tables():
            skipped = report.unreadable.setdefault(sealed.name, set())
            await _rotate_table(db, keys, sealed, skipped, report, progress)
        report.unreadable = {name: ids for name, ids in report.unreadable.items() if ids}
        # Rows that do not open stay stale: another pass would not change them.
        if await count_stale(db, keys) <= report.unreadable_rows():
            break
        report.passes_with_leftovers += 1
    report.remaining = {
        key_id: count for key_id, count in (await usage(db)).items() if key_id != keys.active_key_id
    }
    return report


async def _rotate_table(
    db: Database,
    keys: KeyRing,
    sealed: SealedTable,
    skipped: set[uuid.UUID],
    report: Report,
    progress: Progress | None,
    *,
    budget: int | None = None,
) -> tuple[int, bool]:
    """Re-seal ``sealed``'s stale rows in batches, counting them in ``report``: how many rows were
    looked at, and whether the table's end was reached before ``budget`` of them were."""
    seen = 0
    after: uuid.UUID | None = None
    id_column = sealed.table.c.id
    while budget is None or seen < budget:
        async with db.transaction() as session:
            size = BATCH if budget is None else min(BATCH, budget - seen)
            query = _batch(sealed, keys.active_key_id, after, size)
            rows = (await session.execute(query)).all()
            if not rows:
                return seen, True
            for row in rows:
                values = await _reseal(session, keys, sealed, row._mapping, skipped)
                report.rotated += values > 0
                report.values += values
            after = rows[-1]._mapping[id_column.name]
        seen += len(rows)
        if progress is not None:
            progress(len(rows))
    return seen, False


def _batch(
    sealed: SealedTable, active: str, after: uuid.UUID | None, size: int
) -> Select[tuple[object, ...]]:
    id_column = sealed.table.c.id
    query = select(id_column, *sealed.columns).where(_stale(sealed, active))  # type: ignore[arg-type]
    if after is not None:
        query = query.where(id_column > after)
    return query.order_by(id_column).limit(size).with_for_update(skip_locked=True)


async def _reseal(
    session: AsyncSession,
    keys: KeyRing,
    sealed: SealedTable,
    row: object,
    skipped: set[uuid.UUID],
) -> int:
    """How many of the row's values were re-sealed (none when a refresh changed it meanwhile)."""
    values = dict(row)  # type: ignore[call-overload]
    row_id = values["id"]
    fresh: dict[str, str] = {}
    for column in sealed.columns:
        old = values[column.name]
        if old is None or old.startswith(f"v1.{keys.active_key_id}."):
            continue
        binding = Binding(sealed.name, column.name, str(row_id))
        try:
            fresh[column.name] = keys.seal(keys.open(old, binding), binding)
        except DecryptionError:
            skipped.add(row_id)
    if not fresh:
        return 0
    compare = [sealed.table.c[name] == values[name] for name in fresh]
    result = await session.execute(
        update(sealed.table).where(sealed.table.c.id == row_id, *compare).values(**fresh)
    )
    return len(fresh) if getattr(result, "rowcount", 0) else 0
