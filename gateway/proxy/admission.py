"""Whether a proxied call may go ahead: decided once per caller, method and path, then cached.

Admitting a call means, in order:

- authenticating the service key or delegated key (``ClientKeys``: looked up once, then cached
  under the key's SHA-256; unknown keys are never cached) and requiring the ``proxy`` scope;
- spending one request of the client's rate limit (``RateLimiter``);
- normalising the path below the user id (``normalise``), so that nothing accepted can leave the
  provider's API base;
- checking the client's allow rules against the method and the normalised path, and the user id
  against the client's namespace (``user_pattern``): each refusal is a 403 ``proxy_forbidden`` and
  an ``AuditEvent`` (action ``proxy.forbidden``, actor ``client:<name>``);
- picking the provider (the ``Gateway-Provider`` header, else the default one).

A delegated key (``delegation``) is admitted only for the one connection it was issued for, until
it expires (checked on every call: its admissions are never cached), and each call it makes is
audited before it goes ahead; elsewhere it is refused with 403 ``delegated_key_not_allowed``.

A confined client (``own_users_only``) needs no ownership check here: it looks connections up in
its own space only (``Admission.token_key``), so another client's are not found.

None of that depends on anything but the key, the method, the raw path and the ``Gateway-Provider``
header, so an admitted call is cached under them (the key only as its BLAKE2s digest) and dropped on
every replica when any service client changes, like the key cache (``cache.ChangeListener``).
Refusals are never cached. Every call still spends its client's rate limit, and what depends on the
user's connection (its token) is looked up per call, under the admission's ``token_key``: the user,
the provider and the client's space, so a confined client finds only its own connections and no one
else finds them.

Rate limits are per replica by design: a bucket costs no round trip and no shared state, and the
operator sets each client's limit as its share per replica (N replicas admit up to N times it).

Paths are checked raw (still percent-encoded). Refused with 400 ``invalid_path``:

- anything but printable ASCII in the raw path (a client must percent-encode), and over-long paths;
- encoded slashes or backslashes, and backslashes;
- dot segments, plain or encoded, and segments of dots only or dots before ``;`` (``...``, ``..;x``:
  what some servers still read as a step up);
- empty segments and absolute URLs (``//host``, ``http://``);
- invalid percent-encodings, encodings that are not UTF-8, and double encodings (``%25``);
- decoded control characters and decoded non-ASCII (look-alike dots and slashes).

The accepted path is re-encoded segment by segment (``;`` included), so what goes upstream is
canonical and is exactly what the allow rules were checked against.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import quote, unquote

from starlette.types import Scope

from gateway.audit import store as audit
from gateway.clients.allow_rules import is_allowed
from gateway.clients.credentials import bearer_credentials, missing_key, require_scope
from gateway.clients.limits import RateLimit
from gateway.clients.service_keys import hash_key, lookup_prefix
from gateway.clients.store import Principal, authenticate_proxy
from gateway.exceptions import DelegatedKeyNotAllowed, Forbidden
from gateway.kit.db import Database
from gateway.providers.client import OAuthClient
from gateway.providers.registry import ProviderRegistry
from gateway.proxy import delegation
from gateway.proxy.cache import LocalCache
from gateway.proxy.errors import InvalidPath, ProxyForbidden, RateLimited
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.token_cache import Key

log = logging.getLogger(__name__)

SCOPE = "proxy"
FORBIDDEN_ACTION = "proxy.forbidden"
PREFIX = "/proxy/users/"
MAX_USER_ID_LENGTH = 255
MAX_PATH_LENGTH = 2048
MAX_SEGMENTS = 64
SEGMENT_SAFE = "!$&'()*+,=:@-._~"
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOTS_ONLY = re.compile(r"^\.+(;.*)?$")

# The key's digest, the method, the raw path and the Gateway-Provider header.
AdmissionKey = tuple[bytes, str, str, bytes | None]


# The path.


@dataclass(frozen=True)
class ProxyPath:
    segments: tuple[str, ...]

    @property
    def encoded(self) -> str:
        return "/" + "/".join(quote(segment, safe=SEGMENT_SAFE) for segment in self.segments)


def route_path(path: str, scope: Scope) -> str:
    """``path`` without the app's root path, when it is mounted below one."""
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def raw_target(scope: Scope) -> str:
    """The request's path as the caller sent it (still percent-encoded), below any root path."""
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    return route_path(raw_path.partition("?")[0], scope)


def split_target(target: str) -> tuple[str, ProxyPath]:
    """The user id and the normalised path from ``/proxy/users/{user_id}/{path}`` (raw)."""
    user_part, slash, rest = target[len(PREFIX) :].partition("/")
    user_id = unquote(user_part)
    if not slash:
        raise InvalidPath("the proxied path must name a path below the user id")
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH or any(ord(c) < 0x20 for c in user_id):
        raise InvalidPath("the user id in the proxied path is empty, too long or malformed")
    return user_id, normalise("/" + rest)


def _decode_segment(raw: str) -> str:
    lowered = raw.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in raw:
        raise InvalidPath("encoded slashes and backslashes are not allowed in a proxied path")
    if _BAD_ESCAPE.search(raw):
        raise InvalidPath("the proxied path has an invalid percent-encoding")
    if "%25" in raw:
        raise InvalidPath("double percent-encoding is not allowed in a proxied path")
    try:
        segment = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidPath("the proxied path is not valid UTF-8") from exc
    if _DOTS_ONLY.match(segment):
        raise InvalidPath("dot segments are not allowed in a proxied path")
    if any(not 0x20 <= ord(char) < 0x7F for char in segment):
        raise InvalidPath(
            "control characters and non-ASCII characters are not allowed in a proxied path"
        )
    return segment


def normalise(raw_path: str) -> ProxyPath:
    """Turn the raw path below ``/proxy/users/{user_id}`` into checked, decoded segments."""
    if len(raw_path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"the proxied path is longer than {MAX_PATH_LENGTH} characters")
    if not raw_path.startswith("/"):
        raise InvalidPath("the proxied path must start with /")
    if not _PRINTABLE_ASCII.match(raw_path):
        raise InvalidPath("the proxied path must be printable ASCII (percent-encode the rest)")
    parts = raw_path[1:].split("/")
    if parts == [""]:
        return ProxyPath(())
    if len(parts) > MAX_SEGMENTS:
        raise InvalidPath(f"the proxied path has more than {MAX_SEGMENTS} segments")
    if "" in parts[:-1] or "://" in raw_path or parts[0].endswith(":"):
        raise InvalidPath("empty segments and absolute URLs are not allowed in a proxied path")
    segments = tuple(_decode_segment(part) for part in parts if part)
    return ProxyPath(segments)


# The caller.


class ClientKeys:
    """Service keys and delegated keys authenticated once, then cached under their SHA-256 (the key
    itself is not kept); dropped on every replica per client when the client is changed or
    disabled, and per delegated key when it is revoked."""

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
        principal = await self._db.read(lambda session: authenticate_proxy(session, key))
        if principal is not None:
            self.cache.put(digest, principal, epoch)
        return principal

    def client_changed(self, payload: str) -> None:
        """The listener's handler: the id of a changed (or deleted) service client."""
        client_id = uuid.UUID(payload)
        self.cache.invalidate_where(lambda principal: principal.client_id == client_id)

    def delegated_key_changed(self, payload: str) -> None:
        """The listener's handler: the id of a revoked (or deleted) delegated key."""
        key_id = uuid.UUID(payload)
        self.cache.invalidate_where(lambda principal: principal.delegated_key_id == key_id)


class RateLimiter:
    """A token bucket per client, in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # client id -> (tokens left, when last counted)
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}

    def take(self, client_id: uuid.UUID, limit: RateLimit) -> float | None:
        """Spend one request; None if admitted, else the seconds until one would be."""
        now = self._clock()
        tokens, then = self._buckets.get(client_id, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - then) * limit.per_second)
        if tokens >= 1.0:
            self._buckets[client_id] = (tokens - 1.0, now)
            return None
        self._buckets[client_id] = (tokens, now)
        return (1.0 - tokens) / limit.per_second


# The client's policy.


@dataclass(frozen=True)
class Call:
    """A proxied call as the policy sees it."""

    principal: Principal
    method: str
    path: ProxyPath
    user_id: str


async def refuse(
    db: Database,
    call: Call,
    reason: str,
    message: str,
    connection_id: uuid.UUID | None = None,
    error: type[Forbidden] = ProxyForbidden,
) -> NoReturn:
    """Audit the refusal (in a transaction of its own) and raise it as ``error`` (403
    ``proxy_forbidden`` unless said otherwise)."""
    details = {"method": call.method, "path": call.path.encoded, "reason": reason}
    async with db.transaction() as session:
        audit.record(
            session,
            actor=f"client:{call.principal.name}",
            action=FORBIDDEN_ACTION,
            connection_id=connection_id,
            details={
                **details,
                "user_id": call.user_id,
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
    raise error(message, details=details)


async def check_call(db: Database, call: Call) -> None:
    """The checks that need no connection: allow rules, then the user id's namespace."""
    if not is_allowed(call.principal.rules, call.method, call.path.segments):
        await refuse(db, call, "no_rule", f"this service may not {call.method} {call.path.encoded}")
    if not call.principal.namespace.admits_user_id(call.user_id):
        await refuse(db, call, "user_pattern", "this service may not act for this user")


async def check_delegated(db: Database, call: Call, addressed: uuid.UUID | None) -> None:
    """A delegated key's own checks: 401 once it has expired, and 403 ``delegated_key_not_allowed``
    (audited) unless the call addresses its connection (``addressed``; None: a user's default)."""
    principal = call.principal
    delegation.check_unexpired(principal)
    if addressed != principal.connection_id:
        await refuse(
            db,
            call,
            "delegated_key_elsewhere",
            "a delegated key may only proxy for its own connection, at "
            f"/proxy/connections/{principal.connection_id}/...",
            connection_id=principal.connection_id,
            error=DelegatedKeyNotAllowed,
        )


# The decision, cached.


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
        if principal.delegated_key_id is not None:
            await check_delegated(self._db, call, None)
        await check_call(self._db, call)
        requested = caller.provider
        provider = self._providers.get(requested.decode("latin-1") if requested else None)
        admission = Admission.of(call, provider)
        if principal.delegated_key_id is None:
            self.cache.put(key, admission, epoch)
        else:
            await delegation.record_use(self._db, call.principal, call.method, call.path.encoded)
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
    provider asked for. The digest is BLAKE2s, as collision-resistant as SHA-256 for a cache key
    (``docs/performance.md``)."""
    authorization = caller.authorization or b""
    return (
        hashlib.blake2s(authorization).digest(),
        scope["method"],
        raw_target(scope),
        caller.provider,
    )
