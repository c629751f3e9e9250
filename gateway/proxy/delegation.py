"""Delegated keys at the proxy: a key that may proxy for one connection only, until it expires.

Its principal (``clients.store.authenticate_delegated``) is cached like any key's and dropped on
every replica when the key is revoked or its issuing client changes (``kit.feed.ChangeFeed``). What
a cache cannot see coming, the key's expiry, is checked on every call here; so are the connection
it is bound to (``admission.check_delegated``) and the audit entry each call writes before it goes
ahead (``record_use``): a delegated key's admissions are never cached, so ordinary keys' cached
path does none of it.
"""

from __future__ import annotations

from gateway.audit import store as audit
from gateway.clients.store import Principal
from gateway.exceptions import Unauthorized
from gateway.kit.clock import utcnow
from gateway.kit.db import Database

USED_ACTION = "connection.delegated_key_used"


def check_unexpired(principal: Principal) -> None:
    """401, as for any key that is not valid, once a delegated key has expired."""
    if principal.expires_at is not None and principal.expires_at <= utcnow():
        raise Unauthorized("the service key is not valid")


def named(principal: Principal) -> dict[str, str]:
    """What an audit entry adds to name a delegated key (nothing for other keys)."""
    if principal.delegated_key_id is None:
        return {}
    return {"delegated_key_id": str(principal.delegated_key_id)}


async def record_use(db: Database, principal: Principal, method: str, path: str) -> None:
    """Audit one call of a delegated key, in a transaction of its own, before it is forwarded:
    a call whose use cannot be recorded does not go ahead."""
    async with db.transaction() as session:
        audit.record(
            session,
            actor=f"client:{principal.name}",
            action=USED_ACTION,
            connection_id=principal.connection_id,
            details={**named(principal), "method": method, "path": path},
        )
