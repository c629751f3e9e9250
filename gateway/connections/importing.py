"""Importing a user's existing tokens from another broker, so they need not connect again.

The tokens are checked with the provider before anything is stored: with introspection when the
provider has it (the refresh token must be active; the access token too, else a refresh replaces it;
both must be ours and the same user's, whose ``sub`` becomes the connection's subject), otherwise
with a refresh. They are then stored the way a connect stores them (``store.save_grant``: the row
lock and a ``token_version`` bump, so a refresh in flight cannot write older tokens over them; a
different subject than the one on record is ``identity_mismatch`` unless ``replace`` is set).
With ``additional`` the grant becomes a new connection beside the user's default one; either way a
provider account the user already has connected in the space is ``duplicate_account`` unless
``allow_duplicate_account`` is set.

An imported connection belongs to ``operator``, or to the client named in ``owner``, whose
confinement then decides its space and whose ``user_pattern`` must admit the user. Importing over
an existing connection keeps its owner: naming another owner is refused (``transfer`` moves it).

``metadata``, ``labels`` and ``external_ids``, when given, become the connection's (replacing what
an existing one had); external ids taken by another connection of the owner are refused before the
provider is asked anything. The access token's expiry is given at most one way: ``expires_at``, or
``expires_in`` counted from ``issued_at`` (default: now), which may not be in the future.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import external_ids, ownership, queries, store
from gateway.connections.errors import ConnectionOwnedByOtherClient
from gateway.connections.fields import ExternalIds, Labels, Metadata, Scope, UserId
from gateway.connections.stored_credentials import oauth_provider
from gateway.events.outbox import connection_data, emit
from gateway.exceptions import UnprocessableContent
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.providers.client import OAuthClient
from gateway.providers.contio_admin import connection_id
from gateway.providers.errors import GrantRejected
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings

MAX_TOKEN_LENGTH = 8192
TEN_YEARS = 10 * 365 * 86400
# How far ahead of this host's clock an ``issued_at`` may be (another host's clock).
CLOCK_SKEW = timedelta(seconds=60)
Token = Annotated[SecretStr, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class InvalidTokens(UnprocessableContent):
    """Raised when the provider does not accept the tokens offered for import."""

    code = "invalid_tokens"


class ImportRequest(BaseModel):
    """``POST /v1/connections/import``. Tokens are ``SecretStr``: never echoed, logged or shown."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    provider: str | None = Field(default=None, max_length=64)
    access_token: Token
    refresh_token: Token
    expires_in: StrictInt | None = Field(default=None, ge=1, le=TEN_YEARS)
    issued_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    scopes: list[Scope] | None = Field(default=None, max_length=50)
    replace: StrictBool = False
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    metadata: Metadata | None = None
    external_ids: ExternalIds | None = None
    labels: Labels | None = None
    # A new connection beside the user's default one, instead of importing over the default.
    additional: StrictBool = False
    allow_duplicate_account: StrictBool = False

    @field_validator("expires_at", "issued_at", mode="before")
    @classmethod
    def _rfc3339_only(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string")
        return value

    @field_validator("issued_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > utcnow() + CLOCK_SKEW:
            raise ValueError("must not be in the future")
        return value

    @model_validator(mode="after")
    def _one_expiry(self) -> Self:
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("give expires_in or expires_at, not both")
        if self.issued_at is not None and self.expires_in is None:
            raise ValueError("issued_at needs expires_in: the token expires expires_in after it")
        return self

    def seconds_left(self, now: datetime) -> int | None:
        """What the caller says is left of the access token's life, at least 1 (None: unsaid)."""
        if self.expires_in is not None:
            issued = self.issued_at or now
            return max(1, int(self.expires_in - (now - issued).total_seconds()))
        if self.expires_at is not None:
            return max(1, int((self.expires_at - now).total_seconds()))
        return None


@dataclass(frozen=True)
class Verified:
    tokens: TokenSet
    subject: str
    provider_connection_id: str | None


@dataclass(frozen=True)
class Imported:
    connection: Connection
    created: bool


async def import_grant(
    db: Database,
    keys: KeyRing,
    providers: ProviderRegistry,
    settings: Settings,
    request: ImportRequest,
    *,
    actor: str,
    client_id: uuid.UUID | None,
    spender: Spender,
) -> Imported:
    provider = oauth_provider(providers, request.provider)
    async with db.transaction() as session:
        owner = await _owner(session, request, provider.name)
    verified = await verify(provider, request, spender)
    async with db.transaction() as session:
        previous = await _owner_kept(session, request, provider.name, owner)
        connection, created = await store.save_grant(
            session,
            keys,
            user_id=request.user_id,
            provider=provider.name,
            subject=verified.subject,
            tokens=verified.tokens,
            client_id=client_id,
            settings=settings,
            replace_identity=request.replace,
            owner=owner.owner,
            space=owner.space,
            additional=request.additional,
            allow_duplicate_account=request.allow_duplicate_account,
        )
        if verified.provider_connection_id is not None:
            connection.provider_connection_id = verified.provider_connection_id
        await _annotate(session, connection, request, created)
        details: dict[str, Any] = {"created": created, "labels": connection.labels}
        if not created and previous is not None and previous.subject != verified.subject:
            details["identity_replaced"] = True
        audit.record(
            session,
            actor=actor,
            action="connection.imported",
            connection_id=connection.id,
            details=details,
        )
        await emit(
            session,
            settings.event_endpoints,
            "connection.created" if created else "connection.recovered",
            await connection_data(session, connection, "imported"),
        )
    async with db.transaction() as session:
        return Imported(await queries.get(session, connection.id), created)


async def _owner(session: AsyncSession, request: ImportRequest, provider: str) -> ownership.Target:
    """Who will own the connection; refused, as are external ids the owner already uses for
    another connection, before the provider is asked about the tokens."""
    if request.owner is None:
        owner = ownership.Target(owner=None, space=None, name=ownership.OPERATOR)
    else:
        owner = await ownership.target(session, request.owner)
        ownership.check_user(owner.namespace, request.user_id)
    previous = await _owner_kept(session, request, provider, owner)
    if request.external_ids:
        # Over an existing connection, its owner (kept) is the one whose ids must not clash.
        kept = previous.owner_client_id if previous is not None else owner.owner
        await external_ids.check_free(
            session,
            kept,
            provider,
            request.external_ids,
            excluding=previous.id if previous is not None else None,
        )
    return owner


async def _annotate(
    session: AsyncSession, connection: Connection, request: ImportRequest, created: bool
) -> None:
    """Give the connection the metadata, labels and external ids the request brings."""
    changed = False
    if request.metadata is not None and request.metadata != connection.metadata_:
        connection.metadata_, changed = request.metadata, True
    if request.labels is not None and request.labels != connection.labels:
        connection.labels, changed = request.labels, True
    if request.external_ids is not None:
        wanted = sorted(request.external_ids)
        if wanted != await external_ids.of_one(session, connection.id):
            await external_ids.replace(session, connection, wanted)
            changed = True
    if changed and not created:
        connection.revision += 1


async def _owner_kept(
    session: AsyncSession, request: ImportRequest, provider: str, owner: ownership.Target
) -> Connection | None:
    """The default connection the import replaces the grant of (locked), which must be
    ``owner``'s when the request names one; an ``additional`` import replaces nothing."""
    previous = await store.find(session, request.user_id, provider, owner.space, lock=True)
    if request.additional:
        return None
    named = request.owner is not None
    if named and previous is not None and previous.owner_client_id != owner.owner:
        raise ConnectionOwnedByOtherClient(
            "the connection belongs to another owner; transfer it first",
            details={
                "connection_id": str(previous.id),
                "owner": await ownership.owner_name(session, previous),
            },
        )
    return previous


async def verify(provider: OAuthClient, request: ImportRequest, spender: Spender) -> Verified:
    """Check the tokens with the provider (spending ``spender``'s share of its budget);
    InvalidTokens when it does not accept them."""
    config = await provider.load_config()
    if config.introspection_url is None:
        return await _by_refresh(provider, request, spender, subject=None)
    grant = await provider.introspect(request.refresh_token.get_secret_value(), spender=spender)
    _require_active(grant, "refresh token", config.client_id)
    access = await provider.introspect(request.access_token.get_secret_value(), spender=spender)
    if access.get("active") is not True:
        # Expired (or never valid): the grant is good, so a refresh gets a pair that works.
        return await _by_refresh(provider, request, spender, subject=_sub(grant))
    _require_active(access, "access token", config.client_id)
    subjects = {sub for sub in (_sub(access), _sub(grant)) if sub is not None}
    if len(subjects) > 1:
        raise InvalidTokens("the access and refresh tokens belong to different users")
    tokens = TokenSet(
        access_token=request.access_token,
        refresh_token=request.refresh_token,
        expires_in=_expires_in(access, request),
        scopes=_scopes(access, request),
        id_token=None,
        token_type="Bearer",
    )
    subject = subjects.pop() if subjects else await _subject(provider, tokens, spender)
    return Verified(tokens, subject, connection_id(access) or connection_id(grant))


async def _by_refresh(
    provider: OAuthClient, request: ImportRequest, spender: Spender, *, subject: str | None
) -> Verified:
    try:
        tokens = await provider.refresh(request.refresh_token.get_secret_value(), spender=spender)
    except GrantRejected as exc:
        raise InvalidTokens(
            "the provider rejected the refresh token",
            details={"reason": exc.oauth_error or exc.code},
        ) from exc
    if tokens.scopes is None and request.scopes is not None:
        tokens = dataclasses.replace(tokens, scopes=tuple(request.scopes))
    return Verified(tokens, subject or await _subject(provider, tokens, spender), None)


async def _subject(provider: OAuthClient, tokens: TokenSet, spender: Spender) -> str:
    try:
        return await provider.subject(tokens, nonce=None, spender=spender)
    except GrantRejected as exc:
        raise InvalidTokens("the provider does not accept the access token") from exc


def _require_active(info: dict[str, object], what: str, client_id: str) -> None:
    if info.get("active") is not True:
        raise InvalidTokens(f"the provider says the {what} is not active", details={"token": what})
    issued_to = info.get("client_id")
    if isinstance(issued_to, str) and issued_to != client_id:
        raise InvalidTokens(
            f"the {what} was issued to another client than the gateway's",
            details={"token": what},
        )


def _sub(info: dict[str, object]) -> str | None:
    sub = info.get("sub")
    return sub if isinstance(sub, str) and sub else None


def _expires_in(introspection: dict[str, object], request: ImportRequest) -> int | None:
    """Seconds left: the provider's ``exp`` first, then what the caller said."""
    now = utcnow()
    exp = introspection.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return max(1, int(exp - now.timestamp()))
    return request.seconds_left(now)


def _scopes(introspection: dict[str, object], request: ImportRequest) -> tuple[str, ...] | None:
    if request.scopes is not None:
        return tuple(request.scopes)
    scope = introspection.get("scope")
    return tuple(scope.split()) if isinstance(scope, str) else None
