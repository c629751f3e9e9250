"""An operator's on-demand refresh of one connection ("refresh now"): through the one Refresher, so it
shares the lease and single flight."""

from __future__ import annotations

import math
import uuid

from gateway.connections import queries
from gateway.connections.errors import NothingToRefresh
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.models.connection import STORED_CREDENTIAL_MODES
from gateway.providers.errors import ProviderUnavailable
from gateway.providers.spender import Spender
from gateway.tokens.errors import ensure_usable
from gateway.tokens.refresher import Refresher

DEFAULT_RETRY_AFTER_SECONDS = 30


async def refresh_now(
    db: Database, refresher: Refresher, connection_id: uuid.UUID, spender: Spender
) -> Connection:
    """Refresh (spending ``spender``'s share of the budget) and return the connection as stored
    afterwards.

    Raises ConnectionNotFound, NothingToRefresh (409: a stored credential), ReauthRequired (409),
    ConnectionRevoked (410), or ProviderUnavailable (503) with a ``Retry-After``: the provider's,
    else when the refresher will try again.
    """
    async with db.transaction() as session:
        found = await queries.get(session, connection_id)
    if found.auth_mode in STORED_CREDENTIAL_MODES:
        raise NothingToRefresh(
            "a stored credential has nothing to refresh; supply a new one to replace it",
            details={"connection_id": str(connection_id)},
        )
    try:
        await refresher.refresh(connection_id, spender=spender)
    except ProviderUnavailable as exc:
        if "Retry-After" not in exc.headers:
            exc.headers["Retry-After"] = str(await _retry_after(db, connection_id))
        raise
    async with db.transaction() as session:
        connection = await queries.get(session, connection_id)
    # Revoked while the refresh was in flight: its compare-and-swap lost, and so does the caller.
    ensure_usable(connection)
    return connection


async def _retry_after(db: Database, connection_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        connection = await queries.get(session, connection_id)
    if connection.next_refresh_at is None:
        return DEFAULT_RETRY_AFTER_SECONDS
    return max(1, math.ceil((connection.next_refresh_at - utcnow()).total_seconds()))
