"""Which columns hold sealed values: every model column declared with ``info={"sealed": True}``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table

from gateway.models import Base

SEALED = "sealed"


@dataclass(frozen=True)
class SealedTable:
    table: Table
    columns: tuple[Column[str], ...]

    @property
    def name(self) -> str:
        return self.table.name


def sealed_tables() -> list[SealedTable]:
    """Every table with a sealed column, in a stable order; each is keyed by its ``id`` column."""
    found = []
    for table in sorted(Base.metadata.tables.values(), key=lambda t: t.name):
        columns = tuple(column for column in table.columns if column.info.get(SEALED))
        if columns:
            assert "id" in table.columns, f"{table.name} has sealed columns but no id column"
            found.append(SealedTable(table, columns))
    return found
