"""Creating, changing, finding and authenticating service clients. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clients.allow_rules import AllowRule, RuleError, covers, parse_rules
from gateway.clients.limits import RateLimit
from gateway.clients.service_keys import (
    IssuedKey,
    StoredKey,
    issue_key,
    key_matches,
    lookup_prefix,
)
from gateway.exceptions import BadRequest, Conflict, DelegatedKeyNotAllowed, NotFound
from gateway.kit.clock import utcnow
from gateway.kit.namespace import PatternError, UserNamespace, compile_pattern
from gateway.models import DelegatedKey, ServiceClient
from gateway.operators.roles import LEGACY_ADMIN_SCOPE, Role

# A service client's own scopes, then the operators' roles an admin key carries (``admin``: the
# one operator scope before roles, now ``security``).
SCOPES = ("connect", "proxy", LEGACY_ADMIN_SCOPE, *(role.label for role in Role))
PROXY_SCOPE = "proxy"


class ClientNotFound(NotFound):
    """Raised when no service client has the given name."""

    code = "client_not_found"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request.

    A delegated key's principal is its issuing client's (id, name, namespace, rate limit) held to
    the proxy scope, the key's rules and one connection (``connection_id``) until ``expires_at``.
    """

    client_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    rules: tuple[AllowRule, ...]
    namespace: UserNamespace = field(default_factory=UserNamespace)
    rate_limit: RateLimit | None = None
    connection_id: uuid.UUID | None = None
    delegated_key_id: uuid.UUID | None = None
    expires_at: datetime | None = None

    @property
    def space(self) -> uuid.UUID | None:
        """The connections this client sees: its own space when confined, else the shared one."""
        return self.namespace.space(self.client_id)


@dataclass(frozen=True)
class ClientChanges:
    """What ``update_client`` changes; everything left at its default stays as it is."""

    add_allow: Sequence[str] = ()
    remove_allow: Sequence[str] = ()
    add_scopes: Sequence[str] = ()
    remove_scopes: Sequence[str] = ()
    own_users_only: bool | None = None
    user_pattern: str | None = None
    clear_user_pattern: bool = False
    rate_limit: RateLimit | None = None
    clear_rate_limit: bool = False
    disabled: bool | None = None


def principal_of(client: ServiceClient) -> Principal:
    limit = (
        RateLimit.of(client.rate_limit_per_second, client.rate_limit_burst)
        if client.rate_limit_per_second is not None
        else None
    )
    return Principal(
        client_id=client.id,
        name=client.name,
        scopes=frozenset(client.scopes),
        rules=parse_rules(client.allow_rules),
        namespace=UserNamespace(client.own_users_only, client.user_pattern),
        rate_limit=limit,
    )


def _check_scopes(scopes: Sequence[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise BadRequest(
            f"scopes must be one or more of {', '.join(SCOPES)}",
            code="invalid_scope",
            details={"unknown": unknown},
        )


def _rules(texts: Sequence[str]) -> tuple[AllowRule, ...]:
    try:
        return parse_rules(texts)
    except RuleError as exc:
        raise BadRequest(str(exc), code="invalid_rule") from exc


def validate_client(name: str, scopes: Sequence[str], allow: Sequence[str]) -> None:
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").isalnum():
        raise BadRequest(
            "client name must be 1-100 letters, digits, - or _", code="invalid_client_name"
        )
    _check_scopes(scopes)
    _rules(allow)


async def create_client(
    session: AsyncSession, name: str, scopes: Sequence[str], allow: Sequence[str]
) -> tuple[ServiceClient, IssuedKey]:
    """A new client with a new key (returned once, stored as a hash)."""
    issued = issue_key()
    return await add_client(session, name, scopes, allow, issued.stored), issued


async def add_client(
    session: AsyncSession, name: str, scopes: Sequence[str], allow: Sequence[str], key: StoredKey
) -> ServiceClient:
    """A new client whose key is ``key``; 409 ``client_exists`` when the name is taken."""
    validate_client(name, scopes, allow)
    client = ServiceClient(
        name=name,
        key_prefix=key.lookup_prefix,
        key_hash=key.key_hash,
        scopes=sorted(set(scopes)),
        allow_rules=normalized_rules(allow),
        own_users_only=False,
    )
    session.add(client)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a client named {name!r} already exists", code="client_exists") from exc
    return client


async def replace_key(session: AsyncSession, name: str, key: StoredKey) -> ServiceClient:
    """Make ``key`` the named client's only key; the old one stops working on commit."""
    client = await find_client(session, name, for_update=True)
    client.key_prefix, client.key_hash = key.lookup_prefix, key.key_hash
    await session.flush()
    return client


def normalized_rules(texts: Sequence[str]) -> list[str]:
    """Allow rules as the store keeps them; 400 ``invalid_rule`` for one that does not parse."""
    return [str(rule) for rule in _rules(texts)]


async def find_client(
    session: AsyncSession, name: str, *, for_update: bool = False
) -> ServiceClient:
    statement = select(ServiceClient).where(ServiceClient.name == name)
    if for_update:
        statement = statement.with_for_update()
    client = await session.scalar(statement)
    if client is None:
        raise ClientNotFound(f"no client is named {name!r}")
    return client


def _changed_rules(current: Sequence[str], changes: ClientChanges) -> list[str]:
    rules = [str(rule) for rule in _rules(current)]
    for rule in (str(r) for r in _rules(changes.remove_allow)):
        if rule not in rules:
            raise BadRequest(f"the client has no rule {rule!r}", code="rule_not_found")
        rules.remove(rule)
    for rule in (str(r) for r in _rules(changes.add_allow)):
        if rule not in rules:
            rules.append(rule)
    return rules


def _changed_scopes(current: Sequence[str], changes: ClientChanges) -> list[str]:
    _check_scopes(changes.add_scopes or SCOPES)  # nothing unknown may be added
    scopes = sorted((set(current) | set(changes.add_scopes)) - set(changes.remove_scopes))
    _check_scopes(scopes)  # and something must be left
    return scopes


async def update_client(session: AsyncSession, name: str, changes: ClientChanges) -> ServiceClient:
    """Apply ``changes`` to the named client; the change reaches every replica's cache on commit."""
    client = await find_client(session, name, for_update=True)
    client.allow_rules = _changed_rules(client.allow_rules, changes)
    client.scopes = _changed_scopes(client.scopes, changes)
    if changes.own_users_only is not None:
        client.own_users_only = changes.own_users_only
    if changes.clear_user_pattern:
        client.user_pattern = None
    elif changes.user_pattern is not None:
        try:
            compile_pattern(changes.user_pattern)
        except PatternError as exc:
            raise BadRequest(str(exc), code="invalid_user_pattern") from exc
        client.user_pattern = changes.user_pattern
    if changes.clear_rate_limit:
        client.rate_limit_per_second = client.rate_limit_burst = None
    elif changes.rate_limit is not None:
        client.rate_limit_per_second = changes.rate_limit.per_second
        client.rate_limit_burst = changes.rate_limit.burst
    if changes.disabled is not None:
        client.revoked_at = (client.revoked_at or utcnow()) if changes.disabled else None
    await session.flush()
    await session.refresh(client)  # updated_at is the database's
    return client


async def new_key(session: AsyncSession, name: str) -> tuple[ServiceClient, IssuedKey]:
    """Give the named client a new key (returned once); the old one stops working on commit (and
    the console sessions signed in with it end)."""
    issued = issue_key()
    client = await replace_key(session, name, issued.stored)
    await session.refresh(client)
    return client, issued


async def client_names(
    session: AsyncSession, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """The names of the clients with these ids (None ignored)."""
    wanted = {client_id for client_id in ids if client_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(ServiceClient.id, ServiceClient.name).where(ServiceClient.id.in_(wanted))
    )
    return {client_id: name for client_id, name in rows}


async def list_clients(session: AsyncSession) -> Sequence[ServiceClient]:
    return (await session.scalars(select(ServiceClient).order_by(ServiceClient.name))).all()


async def authenticate(session: AsyncSession, key: str) -> Principal | None:
    """The service client whose key this is (None: no enabled client's); a live delegated key is
    refused with 403 ``delegated_key_not_allowed``: it may only proxy."""
    principal = await _service_client(session, key)
    if principal is None and await authenticate_delegated(session, key) is not None:
        raise DelegatedKeyNotAllowed(
            "this is a delegated key: it may only proxy for its connection "
            "(/proxy/connections/{connection_id}/...)"
        )
    return principal


async def authenticate_proxy(session: AsyncSession, key: str) -> Principal | None:
    """The proxy's caller: a service client, or a delegated key's principal."""
    return await _service_client(session, key) or await authenticate_delegated(session, key)


async def _service_client(session: AsyncSession, key: str) -> Principal | None:
    prefix = lookup_prefix(key)
    if prefix is None:
        return None
    candidates = await session.scalars(
        select(ServiceClient).where(
            ServiceClient.key_prefix == prefix, ServiceClient.revoked_at.is_(None)
        )
    )
    for client in candidates:
        if key_matches(key, client.key_hash):
            return principal_of(client)
    return None


async def authenticate_delegated(session: AsyncSession, key: str) -> Principal | None:
    """The principal of a delegated key that is neither revoked nor expired, whose issuing client
    is enabled and holds the proxy scope; its rules are those of the key's that the issuer's rules
    still cover."""
    prefix = lookup_prefix(key)
    if prefix is None:
        return None
    rows = await session.execute(
        select(DelegatedKey, ServiceClient)
        .join(ServiceClient, ServiceClient.id == DelegatedKey.issued_by_client_id)
        .where(
            DelegatedKey.key_prefix == prefix,
            DelegatedKey.revoked_at.is_(None),
            DelegatedKey.expires_at > func.now(),
            ServiceClient.revoked_at.is_(None),
        )
    )
    for delegated, client in rows:
        if key_matches(key, delegated.key_hash):
            return delegated_principal(delegated, client)
    return None


def delegated_principal(delegated: DelegatedKey, issuer: ServiceClient) -> Principal | None:
    """None when the issuer may no longer proxy at all."""
    if PROXY_SCOPE not in issuer.scopes:
        return None
    principal = principal_of(issuer)
    rules = tuple(
        rule
        for rule in parse_rules(delegated.allow_rules)
        if any(covers(own, rule) for own in principal.rules)
    )
    return replace(
        principal,
        scopes=frozenset({PROXY_SCOPE}),
        rules=rules,
        connection_id=delegated.connection_id,
        delegated_key_id=delegated.id,
        expires_at=delegated.expires_at,
    )
