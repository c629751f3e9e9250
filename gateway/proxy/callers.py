"""Who is calling the proxy: the service key, authenticated once and then cached.

The cache is keyed by the key's SHA-256 (the key itself is not kept) and dropped per client on every
replica when the client is changed or disabled (``listener``). Unknown keys are not cached: each one
costs a database lookup, as before.
"""

from __future__ import annotations

import uuid

from gateway.clients.service_keys import hash_key, lookup_prefix
from gateway.clients.store import Principal, authenticate
from gateway.kit.db import Database
from gateway.proxy.cache import LocalCache


class ClientKeys:
    def __init__(self, db: Database, cache: LocalCache[str, Principal]) -> None:
        self._db = db
        self.cache = cache

    async def authenticate(self, key: str) -> Principal | None:
        if lookup_prefix(key) is None:
            return None
        digest = hash_key(key)
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        epoch = self.cache.epoch
        principal = await self._db.read(lambda session: authenticate(session, key))
        if principal is not None:
            self.cache.put(digest, principal, epoch)
        return principal

    def client_changed(self, payload: str) -> None:
        """The listener's handler: the id of a changed (or deleted) service client."""
        client_id = uuid.UUID(payload)
        self.cache.invalidate_where(lambda principal: principal.client_id == client_id)
