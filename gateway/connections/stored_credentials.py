"""Stored-credential connections: an API key, a basic credential or a header's value, supplied by
an operator for a provider whose profile takes them (``providers.credential_profile``).

The credential is checked with the profile's verification request before anything is stored, and
outside any transaction (a slow provider holds no database connection); one the provider refuses is
not stored (``credential_rejected``). It is then sealed on the connection bound to its row, never
returned, and erased by revocation like tokens. Without ``additional`` it replaces the credential of
the user's default connection to the provider in the owner's space (a new key for the same
connection, same id), or creates that connection; with ``additional`` it is a new connection beside
it. The connection belongs to ``operator`` or to the client named in ``owner``, whose confinement
decides its space and whose ``user_pattern`` must admit the user; replacing the credential of a
connection someone else owns is refused (``transfer`` moves it first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import ownership, queries, store
from gateway.connections.errors import ConnectionConflict, ConnectionOwnedByOtherClient
from gateway.connections.fields import UserId
from gateway.events.outbox import connection_data, emit
from gateway.exceptions import BadRequest
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.providers.client import OAuthClient
from gateway.providers.credential_profile import CredentialKind, StoredCredential, verify
from gateway.providers.registry import ProviderRegistry
from gateway.settings import Settings
from gateway.tokens import grant

MAX_SECRET_LENGTH = 4096
Secret = Annotated[SecretStr, Field(min_length=1, max_length=MAX_SECRET_LENGTH)]
# RFC 7617: the user-id of a basic credential cannot contain a colon.
Username = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^:\x00-\x1f\x7f]+$")]
# The fields each kind takes: the secret, and the user with a password.
FIELDS: dict[CredentialKind, tuple[str, ...]] = {
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "header": ("value",),
}


class NotACredentialProvider(BadRequest):
    """Raised when a stored credential is offered for a provider that takes OAuth grants."""

    code = "not_a_credential_provider"


class NotAnOAuthProvider(BadRequest):
    """Raised when OAuth tokens are offered for a provider that takes stored credentials."""

    code = "not_an_oauth_provider"


def oauth_provider(providers: ProviderRegistry, name: str | None) -> OAuthClient:
    """The named provider, if it takes OAuth grants; NotAnOAuthProvider otherwise."""
    provider = providers.get(name)
    if provider.credentials is not None:
        raise NotAnOAuthProvider(
            f"provider {provider.name!r} takes {provider.credentials.kind} credentials, not OAuth "
            "tokens; supply one with POST /v1/connections/credentials",
            details={"provider": provider.name},
        )
    return provider


class CredentialRequest(BaseModel):
    """``POST /v1/connections/credentials``. Secrets are ``SecretStr``: never echoed or logged."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    provider: str | None = Field(default=None, max_length=64)
    kind: CredentialKind | None = None
    api_key: Secret | None = None
    username: Username | None = None
    password: Secret | None = None
    value: Secret | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    additional: StrictBool = False

    def credential(self, kind: CredentialKind) -> StoredCredential:
        """The credential of the provider's ``kind``, from exactly that kind's fields."""
        if self.kind is not None and self.kind != kind:
            raise BadRequest(
                f"this provider takes {kind} credentials, not {self.kind}",
                code="validation_error",
                details={"field": "kind"},
            )
        wanted = FIELDS[kind]
        given = {
            name for kinds in FIELDS.values() for name in kinds if getattr(self, name) is not None
        }
        missing = [name for name in wanted if name not in given]
        extra = sorted(given - set(wanted))
        if missing or extra:
            raise BadRequest(
                f"a {kind} credential is given as {' and '.join(wanted)}, and only so",
                code="validation_error",
                details={"missing": missing, "unexpected": extra},
            )
        secret = {"api_key": self.api_key, "basic": self.password, "header": self.value}[kind]
        assert secret is not None
        credential = StoredCredential(kind, secret, self.username if kind == "basic" else None)
        problem = credential.problem()
        if problem is not None:
            raise BadRequest(
                f"the {wanted[-1]} must be {problem}",
                code="validation_error",
                details={"field": wanted[-1]},
            )
        return credential


@dataclass(frozen=True)
class Stored:
    connection: Connection
    created: bool


def credential_provider(providers: ProviderRegistry, name: str | None) -> OAuthClient:
    """The named provider, if it takes stored credentials; NotACredentialProvider otherwise."""
    provider = providers.get(name)
    if provider.credentials is None:
        raise NotACredentialProvider(
            f"provider {provider.name!r} takes OAuth grants; connect its users with a connect "
            "session",
            details={"provider": provider.name},
        )
    return provider


async def store_credential(
    db: Database,
    keys: KeyRing,
    providers: ProviderRegistry,
    http: httpx.AsyncClient,
    settings: Settings,
    request: CredentialRequest,
    *,
    actor: str,
    client_id: uuid.UUID | None,
) -> Stored:
    """Verify the credential with the provider, then keep it on a connection (see the module)."""
    provider = credential_provider(providers, request.provider)
    assert provider.credentials is not None
    credential = request.credential(provider.credentials.kind)
    async with db.transaction() as session:
        owner = await _owner(session, request, provider.name)
    await verify(
        http,
        provider.name,
        provider.api_base_url,
        provider.credentials,
        credential,
        provider.profile.auth_header,
    )
    async with db.transaction() as session:
        connection, created = await keep(
            session,
            keys,
            credential,
            user_id=request.user_id,
            provider=provider.name,
            owner=owner,
            client_id=client_id,
            additional=request.additional,
        )
        audit.record(
            session,
            actor=actor,
            action="connection.credential_stored",
            connection_id=connection.id,
            details={"created": created, "auth_mode": credential.kind, "labels": connection.labels},
        )
        await emit(
            session,
            settings.event_endpoints,
            "connection.created" if created else "connection.recovered",
            await connection_data(session, connection, "credential_stored"),
        )
    async with db.transaction() as session:
        return Stored(await queries.get(session, connection.id), created)


async def _owner(
    session: AsyncSession, request: CredentialRequest, provider: str
) -> ownership.Target:
    if request.owner is None:
        return ownership.Target(owner=None, space=None, name=ownership.OPERATOR)
    owner = await ownership.target(session, request.owner)
    ownership.check_user(owner.namespace, request.user_id)
    return owner


async def keep(
    session: AsyncSession,
    keys: KeyRing,
    credential: StoredCredential,
    *,
    user_id: str,
    provider: str,
    owner: ownership.Target,
    client_id: uuid.UUID | None,
    additional: bool,
) -> tuple[Connection, bool]:
    """Seal ``credential`` on the user's default connection in ``owner``'s space (which must be
    ``owner``'s), or on a new one; the connection and whether it is new."""
    default = await store.find(session, user_id, provider, owner.space, lock=True)
    connection = None if additional else default
    if connection is not None and connection.owner_client_id != owner.owner:
        raise ConnectionOwnedByOtherClient(
            "the connection belongs to another owner; transfer it first",
            details={
                "connection_id": str(connection.id),
                "owner": await ownership.owner_name(session, connection),
            },
        )
    created = connection is None
    if connection is None:
        connection_id = uuid.uuid4()
        connection = Connection(
            id=connection_id,
            user_id=user_id,
            provider=provider,
            # No provider account is known: each stored credential is an account of its own.
            subject=f"{credential.kind}:{connection_id}",
            created_by_client_id=client_id,
            owner_client_id=owner.owner,
            confined_to_client_id=owner.space,
            token_version=0,
            is_default=default is None,
        )
        session.add(connection)
    connection.status = ConnectionStatus.ACTIVE
    connection.connected_at = utcnow()
    connection.scopes = None
    grant.write_credential(keys, connection, credential)
    try:
        await session.flush()
    except IntegrityError as exc:
        if not created:
            raise
        raise ConnectionConflict(
            "another flow connected this user at the same moment; try again",
            details={"user_id": user_id, "provider": provider},
        ) from exc
    return connection, created
