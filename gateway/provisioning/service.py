"""The provisioning flow: ask the provider to mail the user a code, then verify the code, consent
without a browser, exchange the code and keep the connection as the connect callback does.

No transaction is held across a provider call: each step reads or writes the row in a short
transaction of its own. While a verify runs it holds the row's lease (``lease_expires_at``), so a
second verify of the same provisioning is refused instead of calling the provider alongside it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update

from gateway.connect import grants
from gateway.connections import ownership
from gateway.connections.errors import (
    AdditionalConnectionsUnavailable,
    ConnectionOwnedByOtherClient,
    DuplicateAccount,
    IdentityMismatch,
    UserNotAllowed,
)
from gateway.exceptions import GatewayError
from gateway.kit.clock import utcnow
from gateway.models import Provisioning, ProvisioningStatus
from gateway.providers.errors import ProviderError, ProviderUnavailable
from gateway.providers.partner_auth import (
    CodeExpired,
    InvalidCode,
    PartnerAuth,
    SessionExpired,
)
from gateway.providers.pkce import code_challenge, new_code_verifier, new_state
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.provisioning import store
from gateway.provisioning.errors import (
    ProvisioningFailed,
    ProvisioningInProgress,
    ProvisioningNotFound,
)
from gateway.provisioning.schemas import ProvisioningRequest
from gateway.resources import Resources

log = logging.getLogger(__name__)

# When the provider is unreachable and says nothing about when to come back.
DEFAULT_RETRY_AFTER = 5.0
IN_PROGRESS_RETRY_AFTER = 2.0
OPEN = (ProvisioningStatus.CODE_SENT, ProvisioningStatus.VERIFIED)
# Refusals at store time that close the provisioning (every later verify answers the same).
CLOSING = (
    IdentityMismatch,
    ConnectionOwnedByOtherClient,
    UserNotAllowed,
    DuplicateAccount,
    AdditionalConnectionsUnavailable,
)


def failure(code: str | None) -> GatewayError:
    """The error every verify of a provisioning closed with ``code`` answers."""
    if code == CodeExpired.code:
        return CodeExpired("The code has expired; start the provisioning again.")
    if code == SessionExpired.code:
        return SessionExpired("The sign-in has expired; start the provisioning again.")
    if code == IdentityMismatch.code:
        return IdentityMismatch(
            "the user signed in as a different account than the one already connected"
        )
    if code == ConnectionOwnedByOtherClient.code:
        return ConnectionOwnedByOtherClient(
            "another service owns this user's connection; nothing was changed"
        )
    if code == UserNotAllowed.code:
        return UserNotAllowed("this service may not act for this user")
    if code == DuplicateAccount.code:
        return DuplicateAccount("this provider account is already connected for this user")
    if code == AdditionalConnectionsUnavailable.code:
        return AdditionalConnectionsUnavailable()
    return ProvisioningFailed("Too many wrong codes: the provisioning is closed; start a new one.")


def expiry(provisioning: Provisioning, now: datetime) -> str | None:
    """Why an open provisioning can no longer finish by the gateway's clock, if it cannot."""
    if provisioning.status is ProvisioningStatus.CODE_SENT and now >= provisioning.code_expires_at:
        return CodeExpired.code
    session_ends = provisioning.session_expires_at
    if provisioning.status is ProvisioningStatus.VERIFIED and session_ends and now >= session_ends:
        return SessionExpired.code
    return None


def state(provisioning: Provisioning, now: datetime) -> tuple[ProvisioningStatus, str | None]:
    """The status and failure code a caller sees, expiry by the clock included."""
    expired = expiry(provisioning, now)
    if expired is not None:
        return ProvisioningStatus.FAILED, expired
    return provisioning.status, provisioning.failure_code


async def initiate(
    res: Resources, client_id: uuid.UUID, body: ProvisioningRequest
) -> store.NewProvisioning:
    """Have the provider provision the user and mail them a code; nothing is stored yet."""
    partner = PartnerAuth(res.providers.get(body.provider), Spender.client(client_id))
    try:
        challenge = await partner.initiate(
            email=body.email,
            name=body.name,
            workspace_id=str(body.workspace_id) if body.workspace_id else None,
            is_admin=body.is_admin,
        )
    except ProviderUnavailable as exc:
        if exc.retry_after is None:
            raise _with_retry_after(exc) from exc
        raise
    return store.NewProvisioning(
        client_id=client_id,
        user_id=body.user_id,
        provider=partner.name,
        email=body.email,
        workspace_id=body.workspace_id,
        replace_identity=body.replace_identity,
        additional=body.additional,
        allow_duplicate_account=body.allow_duplicate_account,
        user_provisioned=challenge.user_provisioned,
        provider_session=challenge.session.get_secret_value(),
        code_expires_at=utcnow() + timedelta(seconds=res.settings.provisioning_code_ttl_seconds),
    )


async def verify(
    res: Resources, provisioning_id: uuid.UUID, code: str, access: store.Access
) -> Provisioning:
    """Finish the provisioning with the user's code; the connected provisioning, or an error.

    Once connected, every verify answers the same; once closed, the same error.
    """
    now = utcnow()
    challenge: str | None = None
    async with res.db.transaction() as session:
        provisioning = await store.find(session, provisioning_id, access, lock=True)
        if provisioning is None:
            raise ProvisioningNotFound()
        refusal = _refusal(provisioning, now)
        if refusal is None and provisioning.status in OPEN:
            # Refused before the code is spent; the provisioning stays open (a transfer may
            # settle whose connection it is).
            actor = await ownership.acting_client(session, provisioning.service_client_id)
            await ownership.check_may_connect(
                session,
                actor,
                provisioning.user_id,
                provisioning.provider,
                additional=provisioning.additional,
            )
            lease = timedelta(seconds=res.settings.provisioning_lease_seconds)
            store.take_lease(provisioning, now, lease)
            challenge = store.provider_session(res.keys, provisioning)
    if refusal is not None:
        raise refusal  # after the commit: an expiry just found is recorded
    if provisioning.status is ProvisioningStatus.CONNECTED:
        return provisioning
    try:
        return await _finish(res, provisioning, code, challenge)
    except ProviderUnavailable as exc:
        await _release(res, provisioning.id)
        if exc.retry_after is None:
            raise _with_retry_after(exc) from exc
        raise
    except BaseException:
        await _release(res, provisioning.id)
        raise


def _refusal(provisioning: Provisioning, now: datetime) -> GatewayError | None:
    if provisioning.status is ProvisioningStatus.FAILED:
        return failure(provisioning.failure_code)
    if provisioning.status is ProvisioningStatus.CONNECTED:
        return None
    lease = provisioning.lease_expires_at
    if lease is not None and lease > now:
        return ProvisioningInProgress(min((lease - now).total_seconds(), IN_PROGRESS_RETRY_AFTER))
    expired = expiry(provisioning, now)
    if expired is not None:
        store.close(provisioning, expired)
        return failure(expired)
    return None


async def _finish(
    res: Resources, provisioning: Provisioning, code: str, challenge: str | None
) -> Provisioning:
    partner = PartnerAuth(
        res.providers.get(provisioning.provider), Spender.client(provisioning.service_client_id)
    )
    if provisioning.status is ProvisioningStatus.CODE_SENT:
        assert challenge is not None  # erased only when the code is answered or the row closed
        await _answer(res, partner, provisioning, code, challenge)
    tokens, subject = await _consent(res, partner, provisioning)
    return await _keep(res, partner, provisioning, tokens, subject)


async def _answer(
    res: Resources, partner: PartnerAuth, provisioning: Provisioning, code: str, challenge: str
) -> None:
    """Verify the code at the provider; on success its session lives ``session_ttl``."""
    try:
        await partner.verify(email=provisioning.email, code=code, session=challenge)
    except InvalidCode as exc:
        if exc.reason != "used":
            raise await _wrong_code(res, provisioning.id, exc) from exc
        # Our own earlier verify got through but its answer was lost: the session it opened is
        # all consent needs, and consent says so if there is none.
        log.info("provisioning %s: the provider had already taken the code", provisioning.id)
    except (CodeExpired, SessionExpired) as exc:
        await _close(res, provisioning.id, exc.code)
        raise
    async with res.db.transaction() as session:
        row = await store.reload(session, provisioning.id)
        ttl = timedelta(seconds=res.settings.provisioning_session_ttl_seconds)
        store.mark_verified(row, utcnow(), ttl)


async def _wrong_code(res: Resources, provisioning_id: uuid.UUID, exc: InvalidCode) -> GatewayError:
    """Count the wrong code by the gateway's own count; close the provisioning at the limit."""
    async with res.db.transaction() as session:
        row = await store.reload(session, provisioning_id)
        row.attempts += 1
        remaining = res.settings.provisioning_max_attempts - row.attempts
        if exc.attempts_remaining is not None:
            remaining = min(remaining, exc.attempts_remaining)
        if exc.reason == "exhausted":
            remaining = 0
        if remaining <= 0:
            store.close(row, ProvisioningFailed.code)
        else:
            row.lease_expires_at = None
    if remaining <= 0:
        return failure(ProvisioningFailed.code)
    return InvalidCode("The code is not correct.", attempts_remaining=remaining)


async def _consent(
    res: Resources, partner: PartnerAuth, provisioning: Provisioning
) -> tuple[TokenSet, str]:
    """Consent for the signed-in user (PKCE S256 and state), then exchange the code for tokens."""
    provider = partner.client
    verifier, sent_state = new_code_verifier(), new_state()
    try:
        granted = await partner.authorize(
            email=provisioning.email,
            redirect_uri=res.settings.redirect_uri,
            scopes=provider.scopes,
            state=sent_state,
            code_challenge=code_challenge(verifier),
        )
    except SessionExpired as exc:
        await _close(res, provisioning.id, exc.code)
        raise
    if granted.state != sent_state:
        raise ProviderError(
            f"{provider.name} headless authorize did not return the request's state",
            provider=provider.name,
        )
    provider.check_callback_issuer(granted.issuer)
    tokens = await provider.exchange_code(
        code=granted.code.get_secret_value(),
        redirect_uri=res.settings.redirect_uri,
        code_verifier=verifier,
        spender=partner.spender,
    )
    try:
        # No nonce: the headless authorize takes none, so the ID token carries none to check.
        subject = await provider.subject(tokens, nonce=None, spender=partner.spender)
    except GatewayError:
        await grants.discard(provider, tokens, partner.spender)
        raise
    await grants.check_settings(provider, tokens, partner.spender)
    return tokens, subject


async def _keep(
    res: Resources,
    partner: PartnerAuth,
    provisioning: Provisioning,
    tokens: TokenSet,
    subject: str,
) -> Provisioning:
    """Store the connection as the connect callback does, and mark the provisioning connected."""
    grant = grants.Grant(
        user_id=provisioning.user_id,
        provider=provisioning.provider,
        subject=subject,
        tokens=tokens,
        client_id=provisioning.service_client_id,
        replace_identity=provisioning.replace_identity,
        additional=provisioning.additional,
        allow_duplicate_account=provisioning.allow_duplicate_account,
        origin={"provisioning_id": str(provisioning.id)},
    )
    try:
        async with grants.transaction(res.db, partner.client, tokens, partner.spender) as session:
            row = await store.reload(session, provisioning.id)
            finished = row.status not in OPEN  # another verify finished after our lease ran out
            if not finished:
                connection, _created = await grants.save(session, res.keys, res.settings, grant)
                store.mark_connected(row, connection.id)
    except CLOSING as exc:
        await _close(res, provisioning.id, exc.code)
        raise
    if finished:
        await grants.discard(partner.client, tokens, partner.spender)
        if row.status is ProvisioningStatus.FAILED:
            raise failure(row.failure_code)
        return row
    log.info(
        "connection %s connected by provisioning %s",
        row.connection_id,
        row.id,
        extra={"connection_id": row.connection_id, "provider": row.provider},
    )
    return row


async def _close(res: Resources, provisioning_id: uuid.UUID, failure_code: str) -> None:
    async with res.db.transaction() as session:
        store.close(await store.reload(session, provisioning_id), failure_code)


async def _release(res: Resources, provisioning_id: uuid.UUID) -> None:
    """Give up the lease of an open provisioning, so that the next verify may run at once."""
    async with res.db.transaction() as session:
        await session.execute(
            update(Provisioning)
            .where(Provisioning.id == provisioning_id, Provisioning.status.in_(OPEN))
            .values(lease_expires_at=None)
        )


def _with_retry_after(exc: ProviderUnavailable) -> ProviderUnavailable:
    """The same failure with a Retry-After, for when the provider gave none."""
    return ProviderUnavailable(
        exc.message,
        provider=exc.provider,
        retry_after=DEFAULT_RETRY_AFTER,
        oauth_error=exc.oauth_error,
        upstream_status=exc.upstream_status,
    )
