"""``POST /webhooks/contio``: Contio tells the gateway that a user revoked its access.

Order of checks: configured (503), body size (413), signature (401), envelope (400), freshness (400),
replay (200 duplicate). The event id is remembered in the same transaction as its effect, so a
failure leaves the event to be retried by Contio and a success is never applied twice.

Every connection the event is for (its user's, by subject, unless revoked) gets a timeline record
of the event's type, id and time, in the same transaction; the payload is not kept there. After its
effect, the event is forwarded to internal services, or kept as unmatched, in the same transaction
too (``forwarding``); a duplicate is neither.

A revocation for an account several connections hold ends only the connections whose grants the
provider no longer honours (see ``connections.provider_revocation``); asking it is done before the
transaction, and a provider that cannot be asked now is a 503 (the event comes again).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.audit import store as audit
from gateway.connections import provider_revocation
from gateway.connections.provider_revocation import Finding
from gateway.connections.revocation import mark_revoked
from gateway.exceptions import BadRequest, GatewayError, ServiceUnavailable
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.request_body import read_body
from gateway.models import (
    Connection,
    ConnectionStatus,
    RecordKind,
    SeenWebhook,
    TimelineRecord,
)
from gateway.resources import Resources, resources
from gateway.settings import Settings, split_commas
from gateway.webhooks import contio, forwarding

log = logging.getLogger(__name__)

PROVIDER = contio.PROVIDER
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
    found = await findings(res, envelope)
    async with res.db.transaction() as session:
        if not await remember(session, envelope.event_id):
            res.metrics.provider_webhooks.labels(PROVIDER, forwarding.Outcome.DUPLICATE).inc()
            return JSONResponse({"status": "duplicate"})
        connections = await for_user(session, envelope)
        record_receipt(session, envelope, now, (connection.id for connection in connections))
        status = await apply(session, res.settings.event_endpoints, envelope, found, connections)
        forwarded = await forwarding.forward(
            session,
            res.keys,
            forwarding.operator_endpoints(res.settings),
            envelope,
            connections,
            now,
        )
    res.metrics.provider_webhooks.labels(PROVIDER, forwarded.outcome).inc()
    res.metrics.forwarded_events.labels(PROVIDER).inc(forwarded.events)
    log.info(
        "contio webhook %s (%s): %s, %s",
        envelope.event_id,
        envelope.event_type,
        status,
        forwarded.outcome,
    )
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


async def findings(res: Resources, envelope: contio.Envelope) -> dict[uuid.UUID, Finding]:
    """What a revocation event does to each connection it matches; empty for other events."""
    if envelope.event_type != REVOKED:
        return {}
    return await provider_revocation.findings(
        res.db,
        res.keys,
        res.providers.get(PROVIDER),
        subject=contio.user_subject(envelope),
        provider_connection_id=contio.revoked_connection_id(envelope),
    )


async def apply(
    session: AsyncSession,
    endpoints: tuple[str, ...],
    envelope: contio.Envelope,
    found: dict[uuid.UUID, Finding],
    connections: Sequence[Connection],
) -> str:
    """The event's effect on ``connections`` (those it is for): a revocation ends those whose
    grants Contio no longer honours; other events change nothing."""
    if envelope.event_type != REVOKED:
        return "ignored"
    revoked = 0
    for connection in connections:
        finding = found.get(connection.id)
        if finding is None:
            continue  # connected after the event arrived: not the event's grant
        if finding.applies_to(connection):
            await revoke(session, endpoints, connection, envelope.event_id)
            revoked += 1
        else:
            audit.record(
                session,
                actor=ACTOR,
                action="connection.provider_revocation_not_applied",
                connection_id=connection.id,
                details={
                    "event_id": envelope.event_id,
                    "reason": finding.reason if not finding.ends else "grant_changed_since",
                },
            )
    return "processed" if revoked else "ignored"


async def for_user(session: AsyncSession, envelope: contio.Envelope) -> Sequence[Connection]:
    """The unrevoked connections the event is for: its user's (by the provider's subject); for a
    revocation also the one Contio names by its own connection id (locked, as it may end them)."""
    if envelope.event_type == REVOKED:
        return await provider_revocation.locked_matches(
            session,
            PROVIDER,
            contio.user_subject(envelope),
            contio.revoked_connection_id(envelope),
        )
    subject = contio.user_subject(envelope)
    if subject is None:
        return []
    found = await session.scalars(
        select(Connection)
        .where(
            Connection.provider == PROVIDER,
            Connection.subject == subject,
            Connection.status != ConnectionStatus.REVOKED,
        )
        .order_by(Connection.id)
    )
    return found.all()


def record_receipt(
    session: AsyncSession,
    envelope: contio.Envelope,
    received_at: datetime,
    connection_ids: Iterable[uuid.UUID],
) -> None:
    """A timeline record for each connection: the event's type, id and time, never its data."""
    details = {
        "type": envelope.event_type[:64],
        "event_id": envelope.event_id,
        "sent_at": rfc3339(envelope.timestamp),
    }
    session.add_all(
        TimelineRecord(
            connection_id=connection_id,
            occurred_at=received_at,
            kind=RecordKind.WEBHOOK_RECEIVED,
            actor=ACTOR,
            details=dict(details),
        )
        for connection_id in connection_ids
    )


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
