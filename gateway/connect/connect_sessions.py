"""Connect sessions: opened by a service for one of its users, finished by the provider's callback.

Secrets of the flow are never stored in the clear: the connect token, state and browser cookie are
kept as SHA-256 hashes, the PKCE verifier is sealed to its row. Callers own the transaction.

One attempt, one exchange: a callback ``claim``s the attempt (its state) and commits the claim before
it sends the code to the provider, so a second callback for the same attempt, concurrent or late,
never replays the code (a provider revokes the grant a replayed code produced). A claimed attempt is
spent whatever its exchange gives; opening the connect link again starts a new, unclaimed attempt.
``consume`` then marks the session used for good when the claimed attempt stores its connection.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import utcnow
from gateway.kit.crypto import Binding, KeyRing
from gateway.models import ConnectSession
from gateway.providers.pkce import code_challenge, new_code_verifier, new_nonce, new_state

COOKIE_PREFIX = "gw_connect_"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def cookie_name(session_id: uuid.UUID) -> str:
    return COOKIE_PREFIX + session_id.hex


def _verifier_binding(session_id: uuid.UUID) -> Binding:
    return Binding("connect_sessions", "code_verifier", str(session_id))


@dataclass(frozen=True)
class Attempt:
    """One trip to the provider: what the authorize redirect carries and the cookie that binds it."""

    state: str
    code_challenge: str | None
    nonce: str | None
    browser_secret: str

    def __repr__(self) -> str:
        return "Attempt(***)"


async def create(
    session: AsyncSession,
    *,
    service_client_id: uuid.UUID,
    user_id: str,
    provider: str,
    return_url: str | None,
    login_hint: str | None,
    scopes: list[str] | None,
    ttl: timedelta,
    replace_identity: bool = False,
    additional: bool = False,
    allow_duplicate_account: bool = False,
) -> tuple[ConnectSession, str]:
    """A new session and its connect token (shown once, in the connect URL)."""
    token = secrets.token_urlsafe(32)
    connect_session = ConnectSession(
        id=uuid.uuid4(),
        service_client_id=service_client_id,
        user_id=user_id,
        provider=provider,
        return_url=return_url,
        login_hint=login_hint,
        scopes=scopes,
        replace_identity=replace_identity,
        additional=additional,
        allow_duplicate_account=allow_duplicate_account,
        token_hash=digest(token),
        expires_at=utcnow() + ttl,
    )
    session.add(connect_session)
    await session.flush()
    return connect_session, token


def begin_attempt(
    connect_session: ConnectSession, keys: KeyRing, *, pkce: bool, openid: bool
) -> Attempt:
    """Start (or restart) the trip to the provider; the previous attempt's state stops working."""
    state = new_state()
    browser_secret = secrets.token_urlsafe(32)
    verifier = new_code_verifier() if pkce else None
    nonce = new_nonce() if openid else None
    connect_session.state_hash = digest(state)
    connect_session.browser_hash = digest(browser_secret)
    connect_session.claimed_at = None
    connect_session.nonce = nonce
    connect_session.code_verifier = (
        keys.seal(verifier, _verifier_binding(connect_session.id)) if verifier else None
    )
    return Attempt(
        state=state,
        code_challenge=code_challenge(verifier) if verifier else None,
        nonce=nonce,
        browser_secret=browser_secret,
    )


def code_verifier(connect_session: ConnectSession, keys: KeyRing) -> str | None:
    if connect_session.code_verifier is None:
        return None
    return keys.open(connect_session.code_verifier, _verifier_binding(connect_session.id))


def browser_matches(connect_session: ConnectSession, cookie: str | None) -> bool:
    if cookie is None or connect_session.browser_hash is None:
        return False
    return secrets.compare_digest(digest(cookie), connect_session.browser_hash)


async def claim(session: AsyncSession, connect_session: ConnectSession) -> bool:
    """Take the current attempt for this callback; False when another callback took it first, the
    attempt was replaced by a newer one, or the session was already used. Commit before exchanging."""
    result = await session.execute(
        update(ConnectSession)
        .where(
            ConnectSession.id == connect_session.id,
            ConnectSession.state_hash == connect_session.state_hash,
            ConnectSession.claimed_at.is_(None),
            ConnectSession.consumed_at.is_(None),
        )
        .values(claimed_at=utcnow())
        .returning(ConnectSession.id)
    )
    return result.first() is not None


async def consume(session: AsyncSession, connect_session: ConnectSession) -> bool:
    """Mark the session used by this callback (or this credential form's submission, which has no
    state); False when another got there first."""
    result = await session.execute(
        update(ConnectSession)
        .where(
            ConnectSession.id == connect_session.id,
            ConnectSession.consumed_at.is_(None),
            ConnectSession.state_hash.is_not_distinct_from(connect_session.state_hash),
        )
        .values(consumed_at=utcnow())
        .returning(ConnectSession.id)
    )
    return result.first() is not None


async def link(
    session: AsyncSession, connect_session: ConnectSession, connection_id: uuid.UUID
) -> None:
    await session.execute(
        update(ConnectSession)
        .where(ConnectSession.id == connect_session.id)
        .values(connection_id=connection_id)
    )


async def find_by_token(session: AsyncSession, token: str) -> ConnectSession | None:
    return await session.scalar(
        select(ConnectSession).where(ConnectSession.token_hash == digest(token)).with_for_update()
    )


async def find_by_state(session: AsyncSession, state: str) -> ConnectSession | None:
    return await session.scalar(
        select(ConnectSession).where(ConnectSession.state_hash == digest(state))
    )
