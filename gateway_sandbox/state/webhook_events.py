"""Events for the partner's webhook: the documented envelope and its publication.

The envelope is ``{event_type, event_id, timestamp, partner_app_id, data}`` plus ``actor_user_id``
(the user whose call caused it; omitted for system events such as an admin's revocation) and
``for_user {id, email}``. It is serialized once, so the signature covers exactly the bytes sent.

Choices where Contio says nothing: one event is sent per change, ``for_user`` being the user the
change was made by (or, for ``user.connection.revoked``, the user whose connection ended); without a
``webhook_url`` nothing is recorded or sent. An event the partner's filter leaves out is neither
recorded nor sent; while the webhook is off, one it admits is recorded as ``pending``.
Partner-level events (``partner.idp.*``) have no ``for_user``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.partner_connections import partner_app_id
from gateway_sandbox.state.records import User, WebhookDelivery
from gateway_sandbox.state.webhook_delivery import WebhookSender

MEETING_CREATED, MEETING_UPDATED, MEETING_COMPLETED = (
    "meeting.created",
    "meeting.updated",
    "meeting.completed",
)
ACTION_ITEM_CREATED, ACTION_ITEM_UPDATED, ACTION_ITEM_COMPLETED = (
    "action_item.created",
    "action_item.updated",
    "action_item.completed",
)
AGENDA_ITEM_CREATED, AGENDA_ITEM_UPDATED, AGENDA_ITEM_DELETED = (
    "agenda_item.created",
    "agenda_item.updated",
    "agenda_item.deleted",
)
PARTICIPANT_ADDED, PARTICIPANT_REMOVED = "participant.added", "participant.removed"
CONNECTION_REVOKED = "user.connection.revoked"


def envelope(
    event_type: str,
    event_id: uuid.UUID,
    now: float,
    client_id: str,
    data: dict[str, Any],
    for_user: User | None,
    actor: User | None,
) -> bytes:
    document: dict[str, Any] = {
        "event_type": event_type,
        "event_id": str(event_id),
        "timestamp": rfc3339(now),
        "partner_app_id": str(partner_app_id(client_id)),
        "data": data,
    }
    if actor is not None:
        document["actor_user_id"] = str(actor.id)
    if for_user is not None:
        document["for_user"] = {"id": str(for_user.id), "email": for_user.email}
    return json.dumps(document, separators=(",", ":")).encode()


class Publisher:
    """Turns a change into a signed delivery to ``webhook_url`` (see ``webhook_delivery``)."""

    def __init__(self, options: SandboxOptions, sender: WebhookSender) -> None:
        self.options = options
        self.sender = sender

    def publish(
        self,
        event_type: str,
        data: dict[str, Any],
        for_user: User | None,
        actor: User | None = None,
    ) -> WebhookDelivery | None:
        """The delivery of the event; ``None`` when there is no webhook or the filter left it out."""
        if self.options.webhook_url is None or not self.sender.settings.admits(event_type):
            return None
        event_id = uuid.uuid4()
        body = envelope(
            event_type,
            event_id,
            self.options.clock(),
            self.options.client_id,
            data,
            for_user,
            actor,
        )
        return self.sender.submit(event_type, event_id, body)
