"""Client-credentials connections: app-level access to a provider with the gateway's own client
(RFC 6749 §4.4), no user and no consent.

Such a connection is created by an operator (who may name any owner, ``operator`` by default) or
by a ``connect``-scope client whose ``user_pattern`` admits its ``user_id`` (a name for the app,
such as ``app:reporting``); the client then owns it, in its own space. The gateway exchanges its
client credentials for a token with the scopes, audience and resources (RFC 8707) asked, before
anything is stored: a provider that refuses stores nothing. The request is kept on the connection
(``token_request``) so the refresher repeats the exchange before the token expires.

It is never a user's default connection: ``/proxy/users/...`` does not find it, only
``/proxy/connections/{id}/...`` does, and it cannot be made the default. The password grant is
refused with the reason (``grant_not_supported``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import ownership, queries, store
from gateway.connections.errors import AdditionalConnectionsUnavailable
from gateway.connections.fields import Labels, Metadata, Scope, UserId
from gateway.events.outbox import connection_data, emit
from gateway.exceptions import Forbidden
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuthMode, Connection, ConnectionStatus
from gateway.providers import client_credentials as grants
from gateway.providers.client_credentials import TokenRequest
from gateway.providers.errors import GrantNotSupported
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import OPERATOR, Spender
from gateway.settings import Settings
from gateway.tokens import grant

MAX_RESOURCES = 10


def _resource(value: str) -> str:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment or "#" in value:
        raise ValueError("must be an absolute URI without a fragment (RFC 8707)")
    return value


Resource = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_resource)]


class ClientCredentialsRequest(BaseModel):
    """``POST /v1/connections/client-credentials``."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    provider: str | None = Field(default=None, max_length=64)
    # Only ``client_credentials``; said explicitly so ``password`` can be refused with the reason.
    grant_type: str = Field(default=grants.CLIENT_CREDENTIALS, min_length=1, max_length=64)
    scopes: list[Scope] | None = Field(default=None, max_length=50)
    audience: str | None = Field(default=None, min_length=1, max_length=2048)
    resource: list[Resource] | None = Field(default=None, max_length=MAX_RESOURCES)
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    metadata: Metadata | None = None
    labels: Labels | None = None

    @field_validator("resource", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def token_request(self) -> TokenRequest:
        return TokenRequest(
            scopes=tuple(self.scopes or ()),
            audience=self.audience,
            resources=tuple(self.resource or ()),
        )


def check_grant_type(grant_type: str) -> None:
    """The one grant this creates; the password grant refused with the reason."""
    grants.check_grant_type(grant_type)
    if grant_type != grants.CLIENT_CREDENTIALS:
        raise GrantNotSupported(
            "a client-credentials connection uses grant_type client_credentials",
            details={"grant_type": grant_type},
        )


async def create(
    db: Database,
    keys: KeyRing,
    providers: ProviderRegistry,
    settings: Settings,
    request: ClientCredentialsRequest,
    *,
    actor: ownership.Actor,
    audit_actor: str,
) -> Connection:
    """Exchange the gateway's client credentials at the provider and keep the token as a new
    connection, owned as ``owner`` says (an operator) or by the acting client.

    Raises GrantNotSupported (400), UserNotAllowed (403), Forbidden ``insufficient_scope`` (a
    client naming another owner), ClientNotFound (404), SettingNotAllowed (422: the token
    response's settings make an API base URL the profile does not allow), or the exchange's
    ProviderError.
    """
    check_grant_type(request.grant_type)
    provider = providers.get(request.provider)
    async with db.transaction() as session:
        owner = await _owner(session, actor, request)
    spender = OPERATOR if actor.operator else Spender.client(actor.client_id)
    wanted = request.token_request()
    tokens = await grants.exchange(provider, wanted, spender=spender)
    provider.profile.check_settings(tokens.settings)  # 422 setting_not_allowed: nothing kept
    now = utcnow()
    async with db.transaction() as session:
        connection = _connection(request, provider.name, wanted, owner, actor, now)
        session.add(connection)
        lifetime = tokens.expires_in or settings.default_token_lifetime_seconds
        grant.write(keys, connection, tokens, lifetime=lifetime, now=now, settings=settings)
        connection.provider_settings = dict(tokens.settings)
        if tokens.scopes is None:
            connection.scopes = list(wanted.scopes)  # RFC 6749 §5.1: granted as requested
        await _flush(session, connection)
        audit.record(
            session,
            actor=audit_actor,
            action="connection.created",
            connection_id=connection.id,
            details={"auth_mode": connection.auth_mode, "labels": connection.labels},
        )
        await emit(
            session,
            settings.event_endpoints,
            "connection.created",
            await connection_data(session, connection, "client_credentials"),
        )
    async with db.transaction() as session:
        return await queries.get(session, connection.id)


def _connection(
    request: ClientCredentialsRequest,
    provider: str,
    wanted: TokenRequest,
    owner: ownership.Target,
    actor: ownership.Actor,
    now: datetime,
) -> Connection:
    """The new row, before its token is written."""
    connection_id = uuid.uuid4()
    return Connection(
        id=connection_id,
        user_id=request.user_id,
        provider=provider,
        # No user's account: each such connection is an account of its own, so revoking one
        # never counts another as sharing its grant (``sharing``).
        subject=f"{grants.CLIENT_CREDENTIALS}:{connection_id}",
        auth_mode=AuthMode.CLIENT_CREDENTIALS.value,
        token_request=wanted.to_json(),
        status=ConnectionStatus.ACTIVE,
        created_by_client_id=actor.client_id,
        owner_client_id=owner.owner,
        confined_to_client_id=owner.space,
        token_version=0,
        is_default=False,
        connected_at=now,
        metadata_=request.metadata or {},
        labels=request.labels or {},
    )


async def _owner(
    session: AsyncSession, actor: ownership.Actor, request: ClientCredentialsRequest
) -> ownership.Target:
    """An operator's connection belongs to ``owner`` (default ``operator``); a client's to the
    client, in its space. Either way the owner's ``user_pattern`` must admit the user id."""
    if actor.operator:
        if request.owner is None:
            return ownership.Target(owner=None, space=None, name=ownership.OPERATOR)
        owner = await ownership.target(session, request.owner)
    else:
        if request.owner is not None and request.owner != actor.name:
            raise Forbidden(
                "only an operator may name another owner; leave owner out to own it",
                code="insufficient_scope",
                details={"owner": request.owner},
            )
        assert actor.client_id is not None and actor.name is not None
        owner = ownership.Target(
            owner=actor.client_id, space=actor.space, name=actor.name, namespace=actor.namespace
        )
    ownership.check_user(owner.namespace, request.user_id)
    return owner


async def _flush(session: AsyncSession, connection: Connection) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        # Before the rollout's contract step, one connection per user, provider and space.
        if store.violated(exc) == store.ONE_PER_SPACE:
            raise AdditionalConnectionsUnavailable(
                details={"user_id": connection.user_id, "provider": connection.provider}
            ) from exc
        raise
