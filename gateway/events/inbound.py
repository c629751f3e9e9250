"""``POST /webhooks/contio``: Contio tells the gateway that a user revoked its access.

Order of checks: configured (503), body size (413), signature (401), envelope (400), freshness (400),
replay (200 duplicate). The event id is remembered in the same transaction as its effect, so a
failure leaves the event to be retried by Contio and a success is never applied twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.connections.revocation import mark_revoked
from gateway.events import contio
from gateway.exceptions import BadRequest, GatewayError, ServiceUnavailable
from gateway.kit.body import read_body
from gateway.kit.clock import utcnow
from gateway.models import Connection, ConnectionStatus, SeenWebhook
from gateway.resources import resources
from gateway.settings import Settings, split_commas

log = logging.getLogger(__name__)

PROVIDER = "contio"
ACTOR = "provider:contio"
REVOKED = "user.connection.revoked"
MAX_BODY_BYTES = 1024 * 1024


class InvalidSignature(GatewayError):
    """Raised when a webhook's signature is missing or matches none of the configured secrets."""

    status_code = 401
    code = "invalid_signature"


async def contio_webhook(request: Request) -> Response:
    res = resources(request)
    secrets = webhook_secrets(res.settings)
    body = await read_body(request, MAX_BODY_BYTES)
    if not contio.is_signed(body, request.headers.get(contio.SIGNATURE_HEADER), secrets):
        raise InvalidSignature("The X-Contio-Signature header is missing or wrong.")
    try:
        envelope = contio.parse_envelope(body)
    except contio.InvalidEnvelope as exc:
        raise BadRequest(str(exc), code="invalid_event") from exc
    now = utcnow()
    if abs(now - envelope.timestamp) > timedelta(seconds=res.settings.webhook_tolerance_seconds):
        raise BadRequest("The event's timestamp is outside the tolerance.", code="stale_event")
    async with res.db.transaction() as session:
        if not await remember(session, envelope.event_id):
            return JSONResponse({"status": "duplicate"})
        status = await apply(session, res.settings.event_endpoints, envelope)
    log.info("contio webhook %s (%s): %s", envelope.event_id, envelope.event_type, status)
    return JSONResponse({"status": status})


def webhook_secrets(settings: Settings) -> tuple[str, ...]:
    configured = settings.contio_webhook_secrets
    secrets = split_commas(configured.get_secret_value()) if configured is not None else ()
    if not secrets:
        raise ServiceUnavailable(
            "Contio webhooks are not configured (GATEWAY_CONTIO_WEBHOOK_SECRETS).",
            code="webhooks_not_configured",
        )
    return secrets


async def remember(session: AsyncSession, event_id: str) -> bool:
    """Record the event id; False if it was already seen (a concurrent twin waits for our commit)."""
    inserted = await session.execute(
        insert(SeenWebhook)
        .values(event_id=event_id, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=[SeenWebhook.event_id])
        .returning(SeenWebhook.event_id)
    )
    return inserted.scalar_one_or_none() is not None


async def apply(
    session: AsyncSession, endpoints: tuple[str, ...], envelope: contio.Envelope
) -> str:
    if envelope.event_type != REVOKED:
        return "ignored"
    # Matched by Contio's connection id when we learned it, else by the user's subject.
    subject = contio.revoked_subject(envelope)
    provider_connection_id = contio.revoked_connection_id(envelope)
    matches = []
    if subject is not None:
        matches.append(Connection.subject == subject)
    if provider_connection_id is not None:
        matches.append(Connection.provider_connection_id == provider_connection_id)
    if not matches:
        return "ignored"
    connections = (
        await session.scalars(
            select(Connection)
            .where(
                Connection.provider == PROVIDER,
                or_(*matches),
                Connection.status != ConnectionStatus.REVOKED,
            )
            .with_for_update()
        )
    ).all()
    for connection in connections:
        await revoke(session, endpoints, connection, envelope.event_id)
    return "processed" if connections else "ignored"


async def revoke(
    session: AsyncSession, endpoints: tuple[str, ...], connection: Connection, event_id: str
) -> None:
    # Contio has revoked the grant itself: nothing is left to revoke upstream.
    await mark_revoked(
        session,
        endpoints,
        connection,
        actor=ACTOR,
        action="connection.revoked_by_provider",
        reason="revoked_by_provider",
        details={"event_id": event_id},
    )
