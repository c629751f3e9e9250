"""Finding connections for the admin API and the CLI. Callers own the transaction."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections.errors import ConnectionNotFound
from gateway.connections.labels import Selector
from gateway.kit import query
from gateway.kit.pagination import Page, keyset_page
from gateway.models import AuthMode, Connection, ConnectionExternalId, ConnectionStatus

LISTING = "connections"
S = TypeVar("S", bound=Select[Any])
STATUSES = tuple(status.value for status in ConnectionStatus)
AUTH_MODES = tuple(mode.value for mode in AuthMode)


def parse_id(text: str) -> uuid.UUID:
    """A connection id from a path or an argument; a malformed one names no connection (404)."""
    parsed = query.id_in_path(text)
    if parsed is None:
        raise not_found(text[:64])
    return parsed


def not_found(connection_id: object) -> ConnectionNotFound:
    return ConnectionNotFound(
        f"no connection has the id {str(connection_id)!r}",
        details={"connection_id": str(connection_id)},
    )


async def get(
    session: AsyncSession, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection:
    """The connection, read afresh (never a stale copy from the session); ConnectionNotFound else."""
    connection = await session.get(
        Connection, connection_id, with_for_update=for_update, populate_existing=True
    )
    if connection is None:
        raise not_found(connection_id)
    return connection


@dataclass(frozen=True)
class Visibility:
    """The connections a service client may see: those in its ``space`` whose user id its
    ``user_pattern`` admits in full (``access.may_see``, as SQL)."""

    space: uuid.UUID | None
    user_pattern: str | None

    def apply(self, statement: S) -> S:
        in_space = (
            Connection.confined_to_client_id.is_(None)
            if self.space is None
            else Connection.confined_to_client_id == self.space
        )
        statement = statement.where(in_space)
        if self.user_pattern is not None and portable(self.user_pattern):
            # Anchored like Python's fullmatch. Callers check each row with may_see as well, so
            # the pattern narrows the query but never decides alone what a client sees.
            whole = f"^(?:{self.user_pattern})$"
            statement = statement.where(Connection.user_id.regexp_match(whole))
        return statement


# Regular expressions PostgreSQL reads as Python does: no extension group ``(?…``, escapes only
# of classes and punctuation (PostgreSQL reads ``\b`` as a backspace), braces only as counts.
_PORTABLE = re.compile(r"(?:[^\\({]|\((?!\?)|\\[dDwWsS.\-+*?()\[\]{}|^$/\\]|\{\d+(?:,\d*)?\})*")


def portable(pattern: str) -> bool:
    """Whether PostgreSQL's ``~`` reads ``pattern`` as Python's ``re`` does (else it is left to
    ``may_see``, so that an unusual pattern cannot make the database fail the query)."""
    return _PORTABLE.fullmatch(pattern) is not None


@dataclass(frozen=True)
class ConnectionFilter:
    user_id: str | None = None
    provider: str | None = None
    status: ConnectionStatus | None = None
    # User ids that begin with this (the console's search); LIKE wildcards in it are literal.
    user_id_prefix: str | None = None
    # Connections with this external id (of any owner: ``visible`` narrows it to the caller's).
    external_id: str | None = None
    # Every selector must match: ``key=value`` that value, ``key`` any.
    labels: tuple[Selector, ...] = ()
    enabled: bool | None = None
    # How it holds or obtains its credential (``AuthMode``).
    auth_mode: AuthMode | None = None
    # None: every connection (an operator's view).
    visible: Visibility | None = None

    def apply(self, statement: S) -> S:
        if self.visible is not None:
            statement = self.visible.apply(statement)
        if self.external_id is not None:
            statement = statement.where(
                Connection.id.in_(
                    select(ConnectionExternalId.connection_id).where(
                        ConnectionExternalId.external_id == self.external_id
                    )
                )
            )
        for selector in self.labels:
            statement = statement.where(
                Connection.labels.has_key(selector.key)
                if selector.value is None
                else Connection.labels.contains({selector.key: selector.value})
            )
        if self.enabled is not None:
            statement = statement.where(Connection.enabled.is_(self.enabled))
        if self.user_id is not None:
            statement = statement.where(Connection.user_id == self.user_id)
        if self.user_id_prefix is not None:
            statement = statement.where(
                Connection.user_id.startswith(self.user_id_prefix, autoescape=True)
            )
        if self.provider is not None:
            statement = statement.where(Connection.provider == self.provider)
        if self.status is not None:
            statement = statement.where(Connection.status == self.status)
        if self.auth_mode is not None:
            statement = statement.where(Connection.auth_mode == self.auth_mode.value)
        return statement


async def matching(session: AsyncSession, where: ConnectionFilter) -> Sequence[Connection]:
    """Every connection the filter matches (for bulk operations), oldest first."""
    statement = where.apply(select(Connection)).order_by(Connection.created_at, Connection.id)
    return (await session.scalars(statement)).all()


def revocable_now() -> ColumnElement[bool]:
    """The connections a bulk revocation acts on: those not revoked yet, and revoked ones still
    holding tokens (their revocation at the provider is unfinished)."""
    return or_(Connection.status != ConnectionStatus.REVOKED, Connection.access_token.is_not(None))


async def revocable(
    session: AsyncSession, where: ConnectionFilter, *, limit: int | None = None
) -> Sequence[Connection]:
    """The connections a bulk revocation by ``where`` acts on (``revocable_now``), oldest first;
    the first ``limit`` of them when given."""
    statement = where.apply(select(Connection)).where(revocable_now())
    statement = statement.order_by(Connection.created_at, Connection.id).limit(limit)
    return (await session.scalars(statement)).all()


async def count_revocable(session: AsyncSession, where: ConnectionFilter) -> int:
    """How many connections a bulk revocation by ``where`` acts on, counted by the database."""
    statement = where.apply(select(func.count()).select_from(Connection)).where(revocable_now())
    return (await session.execute(statement)).scalar_one()


async def page(
    session: AsyncSession, where: ConnectionFilter, *, cursor: str | None, limit: int
) -> Page[Connection]:
    """Newest first; keyset-paginated on (created_at, id)."""
    return await keyset_page(
        session,
        where.apply(select(Connection)),
        listing=LISTING,
        at=Connection.created_at,
        id_=Connection.id,
        cursor=cursor,
        limit=limit,
    )
