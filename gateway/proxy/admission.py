"""Whether a proxied call may go ahead: decided once per caller, method and path, then cached.

Admitting a call means authenticating the service key (``callers``), normalising the path below
the user id (``paths``), checking the client's allow rules and user namespace (``access``, which
audits refusals) and picking the provider. None of that depends on anything but the key, the
method, the raw path and the ``Gateway-Provider`` header, so an admitted call is cached under them
(the key only as its BLAKE2s digest) and dropped on every replica when any service client changes,
like the key cache. Refusals are never cached. Every call still spends its client's rate limit, and
what depends on the user's connection (its token) is looked up per call, under the admission's
``token_key``: the user, the provider and the client's space, so a confined client finds only its own
connections and no one else finds them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.types import Scope

from gateway.clients.credentials import bearer_credentials, missing_key, require_scope
from gateway.clients.store import Principal
from gateway.kit.db import Database
from gateway.providers.client import OAuthClient
from gateway.providers.registry import ProviderRegistry
from gateway.proxy.access import Call, check_call
from gateway.proxy.cache import LocalCache
from gateway.proxy.callers import ClientKeys
from gateway.proxy.errors import RateLimited
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.loader import Key
from gateway.proxy.paths import raw_target, split_target
from gateway.proxy.ratelimit import RateLimiter

SCOPE = "proxy"
# The key's digest, the method, the raw path and the Gateway-Provider header.
AdmissionKey = tuple[bytes, str, str, bytes | None]


@dataclass(frozen=True, slots=True)
class Admission:
    call: Call
    provider: OAuthClient
    url: str  # the provider's API base and the normalised path, without the query
    provider_name: str  # ``provider.name``, kept: read on every call, and a property
    token_key: Key  # the user's connection: (user id, provider, the client's space)

    @classmethod
    def of(cls, call: Call, provider: OAuthClient) -> Admission:
        return cls(
            call,
            provider,
            provider.api_base_url + call.path.encoded,
            provider.name,
            (call.user_id, provider.name, call.principal.space),
        )


class Admissions:
    """One per process, from the lifespan."""

    def __init__(
        self,
        db: Database,
        client_keys: ClientKeys,
        providers: ProviderRegistry,
        rate_limits: RateLimiter,
        cache: LocalCache[AdmissionKey, Admission],
    ) -> None:
        self._db = db
        self._client_keys = client_keys
        self._providers = providers
        self._rate_limits = rate_limits
        self.cache = cache

    def admitted(self, key: AdmissionKey) -> Admission | None:
        """The call's admission if it is cached (its rate limit then spent), else None."""
        admission = self.cache.get(key)
        if admission is not None:
            self._spend(admission.call.principal)
        return admission

    async def admit(self, key: AdmissionKey, scope: Scope, caller: CallerHeaders) -> Admission:
        """Decide a call ``admitted`` does not know; each refusal raised in the gateway's error
        shape."""
        epoch = self.cache.epoch
        credentials = bearer_credentials((caller.authorization or b"").decode("latin-1"))
        if credentials is None:
            raise missing_key()
        principal = require_scope(await self._client_keys.authenticate(credentials), SCOPE)
        self._spend(principal)
        user_id, path = split_target(key[2])
        call = Call(principal, scope["method"], path, user_id)
        await check_call(self._db, call)
        requested = caller.provider
        provider = self._providers.get(requested.decode("latin-1") if requested else None)
        admission = Admission.of(call, provider)
        self.cache.put(key, admission, epoch)
        return admission

    def _spend(self, principal: Principal) -> None:
        if principal.rate_limit is None:
            return
        wait = self._rate_limits.take(principal.client_id, principal.rate_limit)
        if wait is not None:
            raise RateLimited("this service's rate limit is spent; retry later", retry_after=wait)

    def client_changed(self, _payload: str) -> None:
        """The listener's handler: any client changed, so every admission is decided again."""
        self.cache.clear()


def admission_key(scope: Scope, caller: CallerHeaders) -> AdmissionKey:
    """What an admission depends on: the key (as its digest), the method, the raw path and the
    provider asked for."""
    authorization = caller.authorization or b""
    return (
        # BLAKE2s rather than SHA-256: as collision-resistant for a cache key, and it costs the
        # call half as much (no OpenSSL context to set up).
        hashlib.blake2s(authorization).digest(),
        scope["method"],
        raw_target(scope),
        caller.provider,
    )
