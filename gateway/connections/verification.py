"""Verifying a connection: asking its provider, now, whether it still takes the connection's
credential.

How each auth mode is checked:

- a stored credential (``api_key``, ``basic``, ``header``): the provider profile's verification
  request, sent with the credential as the proxy sends it; what is stored does not change;
- ``client_credentials``: a new exchange, as ``POST /v1/connections/{id}/token`` does (the new
  token is kept, like any refresh's);
- ``oauth_user``: a refresh with the stored refresh token, as ``POST .../token`` does.

Exchanges and refreshes go through the one ``Refresher`` (its lease, breaker and budget: the
caller's share, or the operator's). A provider's refusal is ``422 credential_rejected`` with the
provider's reason in ``details.reason`` (for a user's grant the refresher has also marked the
connection ``needs_reauth``, as any refusal of the grant does); an outage stays
``503 provider_unavailable``. A connection that cannot be asked says why before anything is sent:
revoked (410), waiting for its user (409 ``reauth_required``), tokens that do not open (409
``credentials_unreadable``), a profile without a verification request (409 ``nothing_to_verify``).

Whoever may see a connection (``access.seen``: the ownership rule) may verify it; every attempt on a
connection the caller sees is audited as ``connection.verified`` with its outcome and the actor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from gateway.audit import store as audit
from gateway.connections import access, queries
from gateway.connections.errors import NothingToVerify
from gateway.connections.on_demand import refresh_now
from gateway.connections.ownership import Actor
from gateway.connections.views import refresh_error_json
from gateway.exceptions import GatewayError
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuthMode, Connection, ConnectionStatus
from gateway.models.connection import STORED_CREDENTIAL_MODES
from gateway.providers.credential_profile import CredentialRejected, verify
from gateway.providers.errors import ClientRejected
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import OPERATOR, Spender
from gateway.tokens import grant
from gateway.tokens.errors import ReauthRequired, ensure_usable
from gateway.tokens.refresher import Refresher

VERIFIED = "verified"
# How each auth mode is checked, as the answer names it.
VERIFICATION_REQUEST = "verification_request"
EXCHANGE = "client_credentials_exchange"
REFRESH = "refresh"


@dataclass(frozen=True)
class Verified:
    """The connection as stored after its check, and how it was checked."""

    connection: Connection
    method: str


# What each way of checking did, in an operator's words (the CLI and the console show them).
METHOD_TEXT = {
    VERIFICATION_REQUEST: "the provider's verification request accepted the stored credential, "
    "which stays as it was",
    EXCHANGE: "a new client-credentials exchange succeeded; the new token is kept",
    REFRESH: "the user's grant was refreshed; the new tokens are kept",
}


def method_of(connection: Connection) -> str:
    if connection.auth_mode in STORED_CREDENTIAL_MODES:
        return VERIFICATION_REQUEST
    if connection.auth_mode == AuthMode.CLIENT_CREDENTIALS:
        return EXCHANGE
    return REFRESH


class Verifier:
    """Checks connections' credentials with their providers (see the module)."""

    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        providers: ProviderRegistry,
        http: httpx.AsyncClient,
        refresher: Refresher,
    ) -> None:
        self._db = db
        self._keys = keys
        self._providers = providers
        self._http = http
        self._refresher = refresher

    async def verify(self, connection_id: uuid.UUID, *, actor: Actor, audit_actor: str) -> Verified:
        """Check the connection's credential now; Verified, or the refusal (see the module).

        Raises ConnectionNotFound for a connection ``actor`` may not see (nothing is audited)."""
        async with self._db.transaction() as session:
            connection = await access.seen(session, actor, connection_id)
        try:
            checked = await self._check(connection, actor)
        except GatewayError as exc:
            refusal = await self._rejection(connection, exc)
            await self._record(connection, audit_actor, (refusal or exc).code)
            if refusal is not None:
                raise refusal from exc
            raise
        await self._record(checked, audit_actor, VERIFIED)
        return Verified(checked, method_of(connection))

    async def _check(self, connection: Connection, actor: Actor) -> Connection:
        ensure_usable(connection)
        if connection.auth_mode not in STORED_CREDENTIAL_MODES:
            spender = OPERATOR if actor.operator else Spender.client(actor.client_id)
            return await refresh_now(self._db, self._refresher, connection.id, spender)
        provider = self._providers.get(connection.provider)
        profile = provider.credentials
        if profile is None or profile.verification is None:
            raise NothingToVerify(
                f"provider {connection.provider!r} has no verification request; its credentials "
                "are stored unchecked",
                details={"connection_id": str(connection.id), "provider": connection.provider},
            )
        credential = grant.stored_credential(self._keys, connection)
        await verify(self._http, provider.name, provider.api_base_url, profile, credential)
        return connection

    async def _rejection(
        self, connection: Connection, exc: GatewayError
    ) -> CredentialRejected | None:
        """The refusal of the credential ``exc`` stands for, if it is one: the provider refused a
        user's grant during this refresh (the connection was active before it, so the refresher
        marked it), or refused the client credentials a client-credentials connection is made of.
        ``connection`` is as it was read before the check."""
        if isinstance(exc, CredentialRejected):
            return exc
        details: dict[str, object] = {"provider": connection.provider}
        if isinstance(exc, ReauthRequired) and connection.status is ConnectionStatus.ACTIVE:
            async with self._db.transaction() as session:
                marked = await queries.get(session, connection.id)
            error = refresh_error_json(marked.last_refresh_error) or {}
            details["reason"] = error.get("message") or exc.message
        elif (
            isinstance(exc, ClientRejected) and connection.auth_mode == AuthMode.CLIENT_CREDENTIALS
        ):
            details.update(exc.details or {})
            details["reason"] = exc.message
        else:
            return None
        return CredentialRejected(
            f"{connection.provider} refused the connection's credential", details=details
        )

    async def _record(self, connection: Connection, audit_actor: str, outcome: str) -> None:
        async with self._db.transaction() as session:
            audit.record(
                session,
                actor=audit_actor,
                action="connection.verified",
                connection_id=connection.id,
                details={
                    "auth_mode": connection.auth_mode,
                    "outcome": outcome,
                    "labels": connection.labels,
                },
            )
