"""Keeping a new grant: how every flow that ends with tokens (the connect callback, partner-auth
provisioning) stores the user's connection, so all of them behave alike.

``transaction`` opens the transaction a flow stores its grant in and revokes the new tokens when
the flow gives up inside it; ``save`` stores the grant as the connection of (user, provider) in
the client's space with the ownership and identity checks, the audit entry and the
``connection.created``/``connection.recovered`` event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import ownership, store
from gateway.events.outbox import connection_data, emit
from gateway.exceptions import GatewayError
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from gateway.providers.client import OAuthClient
from gateway.providers.profile import SettingNotAllowed
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    """Tokens a flow obtained for one of a service's users, and who they belong to.

    ``origin`` names the flow in the audit entry (``{"connect_session_id": ...}``).
    """

    user_id: str
    provider: str
    subject: str
    tokens: TokenSet
    client_id: uuid.UUID
    replace_identity: bool
    # A new connection beside the default one (``store.save_grant``).
    additional: bool = False
    allow_duplicate_account: bool = False
    origin: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Grant(user_id={self.user_id!r}, provider={self.provider!r}, tokens=***)"


@asynccontextmanager
async def transaction(
    db: Database, provider: OAuthClient, tokens: TokenSet, spender: Spender
) -> AsyncIterator[AsyncSession]:
    """A transaction to store ``tokens`` in; if a GatewayError ends it, the tokens are revoked
    (after the rollback: no transaction is held across the call to the provider)."""
    try:
        async with db.transaction() as session:
            yield session
    except GatewayError:
        await discard(provider, tokens, spender)
        raise


async def save(
    session: AsyncSession, keys: KeyRing, settings: Settings, grant: Grant
) -> tuple[Connection, bool]:
    """Store the grant as the user's default connection in the client's space, or beside it when
    the flow asked for an additional one; returns it and whether it is new (then the client owns
    it).

    The flow's checks run again on the locked row, as the client is now: UserNotAllowed when its
    pattern no longer admits the user, ConnectionOwnedByOtherClient when a re-connected default is
    not its own, IdentityMismatch when the default holds another provider account and the flow did
    not ask to replace it, DuplicateAccount when the account is already connected for the user in
    the space and the flow did not say it may be (``store.save_grant``).
    """
    actor = await ownership.acting_client(session, grant.client_id)
    existing = await ownership.check_may_connect(
        session, actor, grant.user_id, grant.provider, lock=True, additional=grant.additional
    )
    previous_subject = existing.subject if existing is not None and not grant.additional else None
    connection, created = await store.save_grant(
        session,
        keys,
        user_id=grant.user_id,
        provider=grant.provider,
        subject=grant.subject,
        tokens=grant.tokens,
        client_id=grant.client_id,
        settings=settings,
        replace_identity=grant.replace_identity,
        owner=grant.client_id,
        space=actor.space,
        additional=grant.additional,
        allow_duplicate_account=grant.allow_duplicate_account,
    )
    session.add(_audit(grant, actor, connection, created, previous_subject))
    await emit(
        session,
        settings.event_endpoints,
        "connection.created" if created else "connection.recovered",
        await connection_data(session, connection, "connected" if created else "reconnected"),
    )
    return connection, created


async def check_settings(provider: OAuthClient, tokens: TokenSet, spender: Spender) -> None:
    """SettingNotAllowed, after revoking the tokens, when the settings of the token response make
    an API base URL the provider's profile does not allow: nothing of such a grant is kept."""
    try:
        provider.profile.check_settings(tokens.settings)
    except SettingNotAllowed:
        log.warning("%s named an API base URL outside its allowed_hosts", provider.name)
        await discard(provider, tokens, spender)
        raise


async def discard(provider: OAuthClient, tokens: TokenSet, spender: Spender) -> None:
    """Best effort: revoke tokens we obtained but will not keep."""
    token, hint = (
        (tokens.refresh_token, "refresh_token")
        if tokens.refresh_token
        else (tokens.access_token, "access_token")
    )
    try:
        await provider.revoke(token.get_secret_value(), hint, spender=spender)
    except GatewayError as exc:
        log.warning("could not revoke discarded tokens: %s", exc.code)


def _audit(
    grant: Grant,
    actor: ownership.Actor,
    connection: Connection,
    created: bool,
    previous_subject: str | None,
) -> AuditEvent:
    details: dict[str, object] = dict(grant.origin)
    if previous_subject is not None and previous_subject != connection.subject:
        details["identity_replaced"] = True
    return AuditEvent(
        actor=f"client:{actor.name or grant.client_id}",
        action="connection.created" if created else "connection.reconnected",
        connection_id=connection.id,
        details=details,
    )
