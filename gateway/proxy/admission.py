"""Whether a proxied call may go ahead: decided once per caller, method and path, then cached.

Admitting a call means authenticating the service key (``callers``), normalising the path below
the user id (``paths``), checking the client's allow rules and user namespace (``access``, which
audits refusals) and picking the provider. None of that depends on anything but the key, the
method, the raw path and the ``Gateway-Provider`` header, so an admitted call is cached under them
(the key only as its SHA-256) and dropped on every replica when any service client changes, like
the key cache. Refusals are never cached. Every call still spends its client's rate limit, and
what depends on the user's connection (its token, ``own_users_only``) is checked per call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.types import Scope

from gateway.clients.store import Principal
from gateway.exceptions import Forbidden, Unauthorized
from gateway.kit.db import Database
from gateway.providers.client import OAuthClient
from gateway.providers.registry import ProviderRegistry
from gateway.proxy.access import Call, check_call
from gateway.proxy.cache import LocalCache
from gateway.proxy.callers import ClientKeys
from gateway.proxy.errors import RateLimited
from gateway.proxy.headers import CallerHeaders
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

    def admitted(self, scope: Scope, caller: CallerHeaders) -> Admission | None:
        """The call's admission if it is cached (its rate limit spent), else None: ``admit``."""
        key = _key(scope, caller)
        admission = self.cache.lookup(key)[0]
        if admission is not None:
            self._spend(admission.call.principal)
        return admission

    async def admit(self, scope: Scope, caller: CallerHeaders) -> Admission:
        """The admitted call; each refusal raised in the gateway's error shape."""
        key = _key(scope, caller)
        admission = self.cache.lookup(key)[0]
        if admission is not None:
            self._spend(admission.call.principal)
            return admission
        target = key[2]
        authorization = caller.authorization or b""
        epoch = self.cache.epoch
        principal = await self._authenticate(authorization)
        self._spend(principal)
        user_id, path = split_target(target)
        call = Call(principal, scope["method"], path, user_id)
        await check_call(self._db, call)
        requested = caller.provider
        provider = self._providers.get(requested.decode("latin-1") if requested else None)
        admission = Admission(call, provider, provider.api_base_url + path.encoded)
        self.cache.put(key, admission, epoch)
        return admission

    async def _authenticate(self, authorization: bytes) -> Principal:
        """The calling service, which must hold the ``proxy`` scope; 401 or 403 otherwise."""
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        key = credentials.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("send your service key as Authorization: Bearer <key>")
        principal = await self._client_keys.authenticate(key)
        if principal is None:
            raise Unauthorized("the service key is not valid")
        if SCOPE not in principal.scopes:
            raise Forbidden(
                f"this service key lacks the {SCOPE!r} scope",
                code="insufficient_scope",
                details={"required_scope": SCOPE},
            )
        return principal

    def _spend(self, principal: Principal) -> None:
        if principal.rate_limit is None:
            return
        wait = self._rate_limits.take(principal.client_id, principal.rate_limit)
        if wait is not None:
            raise RateLimited("this service's rate limit is spent; retry later", retry_after=wait)

    def client_changed(self, _payload: str) -> None:
        """The listener's handler: any client changed, so every admission is decided again."""
        self.cache.clear()


def _key(scope: Scope, caller: CallerHeaders) -> AdmissionKey:
    authorization = caller.authorization or b""
    return (
        hashlib.sha256(authorization).digest(),
        scope["method"],
        raw_target(scope),
        caller.provider,
    )
