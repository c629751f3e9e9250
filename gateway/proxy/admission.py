"""Whether a proxied call may go ahead: decided once per caller, method and path (on a route by
user, once for every user), then cached.

Admitting a call means, in order:

- authenticating the service key or delegated key (``ClientKeys``: looked up once, then cached
  under the key's SHA-256; unknown keys are never cached) and requiring the ``proxy`` scope;
- spending one request of the client's rate limit (``RateLimiter``);
- normalising the path below the user id or the connection id (``paths``), so that nothing
  accepted can leave the provider's API base;
- on ``/sdk/contio/users/{user_id}/v1/partner/user/...`` and ``/sdk/contio/connections/{id}/
  v1/partner/user/...`` (Contio's SDK, pointed at the gateway): all of what follows, as on the
  proxy's own paths below with the SDK's API prefix dropped, for Contio alone (``paths.sdk_target``);
- on ``/proxy/users/{user_id}/...``: checking the client's allow rules against the method and the
  normalised path, and the user id against the client's namespace (``user_pattern``): each refusal
  is a 403 ``proxy_forbidden`` and an ``AuditEvent`` (action ``proxy.forbidden``, actor
  ``client:<name>``); then picking the provider (the ``Gateway-Provider`` header, else the default
  one);
- on ``/proxy/connections/{connection_id}/...``: reading the connection's user, provider and space
  (``addressed``). One the client may not use is answered like one that does not exist, 404
  ``connection_not_found``: another space's, and one whose user the client's ``user_pattern`` does
  not admit (that refusal audited as above, as on the other route); then the allow rules as above.
  The provider is the connection's own (``Gateway-Provider`` is not read).

A delegated key (``delegation``) is admitted only for the one connection it was issued for, until
it expires (checked on every call: its admissions are never cached), and each call it makes is
audited before it goes ahead; elsewhere it is refused with 403 ``delegated_key_not_allowed``.

A confined client (``own_users_only``) needs no ownership check here: it looks connections up in
its own space only (``Admission.token_key``), so another client's are not found.

None of that depends on anything but the key, the method, the raw path and the ``Gateway-Provider``
header (and, by id, the connection's user, provider and space, which the token's key holds as well),
so an admitted call is cached under them (the key only as its BLAKE2s digest) and dropped on every
replica when any service client changes, like the key cache (``kit.feed.ChangeFeed``). On a route by
user the raw path is cached without its user segment (``paths.split_user``): one admission serves
every user of a client at that method and path, and each call's user id is checked on its own, for
its form and against the client's namespace (``Admission.token_key``; a user that fails is decided
again in full, which refuses it). Refusals are never cached. Every call still spends its client's
rate limit, and what depends on the connection (its token) is looked up per call, under the key
``token_key`` gives: the user, the provider, the client's space and, by id, the connection's id, so a
confined client finds only its own connections, no one else finds them, and a connection moved to
another space is no longer found by id.

Rate limits are per replica, split between a replica's serving processes (``callers.RateLimiter``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, replace
from typing import NoReturn

from starlette.types import Scope

from gateway.audit import store as audit
from gateway.clients.allow_rules import is_allowed
from gateway.clients.credentials import bearer_credentials, missing_key, require_scope
from gateway.clients.store import Principal
from gateway.connections import queries
from gateway.exceptions import DelegatedKeyNotAllowed
from gateway.kit.db import Database
from gateway.providers.client import OAuthClient
from gateway.providers.profile import ApiBase
from gateway.providers.registry import ProviderRegistry
from gateway.proxy import delegation
from gateway.proxy.cache import LocalCache
from gateway.proxy.callers import ClientKeys, RateLimiter
from gateway.proxy.errors import ProxyForbidden, RateLimited
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.loader import Key
from gateway.proxy.paths import (
    CONNECTIONS_PREFIX,
    SDK_PREFIX,
    SDK_PROVIDER,
    ProxyPath,
    raw_target,
    sdk_target,
    split_connection_target,
    split_target,
    split_user,
    user_id_of,
)

log = logging.getLogger(__name__)

SCOPE = "proxy"
FORBIDDEN_ACTION = "proxy.forbidden"

# The key's digest, the method, the raw path (on a route by user, without the user: ``split_user``)
# and the Gateway-Provider header.
AdmissionKey = tuple[bytes, str, str, bytes | None]


# The client's policy.


@dataclass(frozen=True, slots=True)
class Call:
    """A proxied call as the policy sees it; ``connection_id`` is the connection it addresses by
    id (None on ``/proxy/users/...``), ``user_id`` that connection's user then."""

    principal: Principal
    method: str
    path: ProxyPath
    user_id: str
    connection_id: uuid.UUID | None = None


async def audit_refusal(db: Database, call: Call, reason: str, **more: str) -> dict[str, str]:
    """Audit a refusal (in a transaction of its own); the details a refusal shows the caller."""
    details = {"method": call.method, "path": call.path.encoded, "reason": reason, **more}
    async with db.transaction() as session:
        audit.record(
            session,
            actor=f"client:{call.principal.name}",
            action=FORBIDDEN_ACTION,
            connection_id=call.connection_id,
            details={
                **details,
                **({"user_id": call.user_id} if call.user_id else {}),
                "client_id": str(call.principal.client_id),
                **delegation.named(call.principal),
            },
        )
    log.info(
        "refused %s %s for client %s: %s",
        call.method,
        call.path.encoded,
        call.principal.name,
        reason,
    )
    return details


async def refuse(db: Database, call: Call, reason: str, message: str) -> NoReturn:
    """Audit the refusal and raise it as 403 ``proxy_forbidden``."""
    raise ProxyForbidden(message, details=await audit_refusal(db, call, reason))


async def check_rules(db: Database, call: Call) -> None:
    """The client's allow rules, against the method and the normalised path."""
    if not is_allowed(call.principal.rules, call.method, call.path.segments):
        await refuse(db, call, "no_rule", f"this service may not {call.method} {call.path.encoded}")


async def check_call(db: Database, call: Call) -> None:
    """The checks that need no connection: allow rules, then the user id's namespace."""
    await check_rules(db, call)
    if not call.principal.namespace.admits_user_id(call.user_id):
        await refuse(db, call, "user_pattern", "this service may not act for this user")


async def check_delegated(db: Database, call: Call, addressed: uuid.UUID | None) -> None:
    """A delegated key's own checks, before anything is looked up: 401 once it has expired, and
    403 ``delegated_key_not_allowed`` unless the call addresses its connection by id (``addressed``;
    None on ``/proxy/users/...``). The refusal is audited on the key's own connection."""
    principal = call.principal
    delegation.check_unexpired(principal)
    if addressed != principal.connection_id:
        details = await audit_refusal(
            db,
            replace(call, connection_id=principal.connection_id),
            "delegated_key_elsewhere",
            addressed=str(addressed) if addressed is not None else f"user:{call.user_id}",
        )
        raise DelegatedKeyNotAllowed(
            "a delegated key may only proxy for its own connection, at "
            f"/proxy/connections/{principal.connection_id}/...",
            details=details,
        )


@dataclass(frozen=True)
class Addressed:
    """What the admission needs of a connection addressed by id."""

    user_id: str
    provider: str
    space: uuid.UUID | None


# Read by the driver (``Database.quick_fetch``), like the token cache's misses.
ADDRESSED = "SELECT user_id, provider, confined_to_client_id FROM connections WHERE id = $1"


async def addressed(db: Database, connection_id: uuid.UUID) -> Addressed | None:
    rows = await db.quick_fetch(ADDRESSED, connection_id)
    return Addressed(rows[0][0], rows[0][1], rows[0][2]) if rows else None


# The decision, cached.


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``principal`` may do at ``method`` and the path: on a route by user, for any user its
    namespace admits (``token_key``); by id, for the one connection."""

    principal: Principal
    method: str
    provider: OAuthClient
    # The provider's API base and the normalised path, without the query; the path alone when
    # the API base is a template (``api_base``), which each connection's settings resolve.
    url: str
    provider_name: str  # ``provider.name``, kept: read on every call, and a property
    space: uuid.UUID | None  # ``principal.space``, kept likewise
    patterned: bool  # whether the client's namespace has a user pattern to check each user against
    # By id, the connection: (its user id, its provider, the client's space, its id). None on a
    # route by user, where each call's user names the user's default connection.
    by_id: Key | None
    api_base: ApiBase | None
    # The query parameter the credential goes in (lower case), for a provider that wants it there.
    credential_param: bytes | None
    # Neither: the URL is ``url`` and the caller's query, whatever the connection (Contio);
    # else ``injection.target`` makes it per call.
    fixed: bool

    @classmethod
    def of(cls, call: Call, provider: OAuthClient) -> Admission:
        profile = provider.profile
        api_base = profile.api_base
        param = profile.auth_header.query_param
        principal = call.principal
        return cls(
            principal,
            call.method,
            provider,
            call.path.encoded
            if api_base is not None
            else provider.api_base_url + call.path.encoded,
            provider.name,
            principal.space,
            principal.namespace.user_pattern is not None,
            (call.user_id, provider.name, principal.space, call.connection_id)
            if call.connection_id is not None
            else None,
            api_base,
            param.lower().encode() if param is not None else None,
            api_base is None and param is None,
        )

    def token_key(self, user: str) -> Key | None:
        """The token cache's key for a call whose raw user segment is ``user`` (by id, the
        connection's, whatever ``user``); None when that user id is malformed or outside the
        client's namespace: such a call is decided again in full (``Admissions.admit``), which
        refuses it."""
        if self.by_id is not None:
            return self.by_id
        user_id = user_id_of(user)
        if user_id is None:
            return None
        if self.patterned and not self.principal.namespace.admits_user_id(user_id):
            return None
        return (user_id, self.provider_name, self.space, None)  # ``user_key``, on every call's path

    def user_key(self, user_id: str) -> Key:
        """The key of ``user_id``'s default connection in the client's space."""
        return (user_id, self.provider_name, self.space, None)


# An admitted call: its admission, and the key its connection's token is cached under.
Admitted = tuple[Admission, Key]


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

    def admitted(self, key: AdmissionKey, user: str) -> Admitted | None:
        """The call's cached admission and its token's key (its rate limit then spent), else None;
        ``user`` is the call's raw user segment (``admission_key``)."""
        admission = self.cache.get(key)
        if admission is None:
            return None
        token_key = admission.token_key(user)
        if token_key is None:
            return None
        self._spend(admission.principal)
        return admission, token_key

    async def admit(
        self, key: AdmissionKey, user: str, scope: Scope, caller: CallerHeaders
    ) -> Admitted:
        """Decide a call ``admitted`` does not know, or whose user it does not admit; each
        refusal raised in the gateway's error shape."""
        epoch = self.cache.epoch
        credentials = bearer_credentials((caller.authorization or b"").decode("latin-1"))
        if credentials is None:
            raise missing_key()
        principal = require_scope(await self._client_keys.authenticate(credentials), SCOPE)
        self._spend(principal)
        target = raw_target(scope)
        # The SDK's base paths stand for the proxy's, for the SDK's provider alone.
        sdk = target.startswith(SDK_PREFIX)
        if sdk:
            target = sdk_target(target)
        if target.startswith(CONNECTIONS_PREFIX):
            call, provider = await self._admit_by_id(principal, scope["method"], target, sdk)
        else:
            user_id, path = split_target(target)
            call = Call(principal, scope["method"], path, user_id)
            if principal.delegated_key_id is not None:
                await check_delegated(self._db, call, None)
            await check_call(self._db, call)
            requested = SDK_PROVIDER.encode() if sdk else caller.provider
            provider = self._providers.get(requested.decode("latin-1") if requested else None)
        admission = Admission.of(call, provider)
        if principal.delegated_key_id is None:
            self.cache.put(key, admission, epoch)
        else:
            await delegation.record_use(self._db, principal, call.method, call.path.encoded)
        return admission, admission.by_id or admission.user_key(call.user_id)

    async def _admit_by_id(
        self, principal: Principal, method: str, target: str, sdk: bool
    ) -> tuple[Call, OAuthClient]:
        """The call by id and its connection's provider. ``sdk``: the call came by the SDK's base
        path, which addresses its provider's connections alone (another provider's is not
        found)."""
        connection_id, path = split_connection_target(target)
        if principal.delegated_key_id is not None:
            # The connection is not read: its user is not known to the refusal's audit entry.
            await check_delegated(self._db, Call(principal, method, path, ""), connection_id)
        found = await addressed(self._db, connection_id)
        if found is None or found.space != principal.space:
            raise queries.not_found(connection_id)
        if sdk and found.provider != SDK_PROVIDER:
            raise queries.not_found(connection_id)
        call = Call(principal, method, path, found.user_id, connection_id)
        if not principal.namespace.admits_user_id(found.user_id):
            await audit_refusal(self._db, call, "user_pattern")
            raise queries.not_found(connection_id)
        await check_rules(self._db, call)
        return call, self._providers.get(found.provider)

    def _spend(self, principal: Principal) -> None:
        if principal.rate_limit is None:
            return
        wait = self._rate_limits.take(principal.client_id, principal.rate_limit)
        if wait is not None:
            raise RateLimited("this service's rate limit is spent; retry later", retry_after=wait)

    def client_changed(self, _payload: str) -> None:
        """The change feed's handler: any client changed, so every admission is decided again."""
        self.cache.clear()


def admission_key(scope: Scope, caller: CallerHeaders) -> tuple[AdmissionKey, str]:
    """What an admission depends on: the key (as its digest), the method, the raw path (on a route
    by user, without the user: ``paths.split_user``) and the provider asked for; and the raw user
    segment (``""`` by id), which ``Admissions.admitted`` checks per call. The digest is BLAKE2s,
    as collision-resistant as SHA-256 for a cache key (``docs/performance.md``)."""
    authorization = caller.authorization or b""
    shape, user = split_user(raw_target(scope))
    return (hashlib.blake2s(authorization).digest(), scope["method"], shape, caller.provider), user
