"""Inbound webhooks from providers: Contio tells the gateway about its users (a revocation is
applied; every event is forwarded to internal services or kept as unmatched), and the operators'
list of the events that matched no connection."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    DATABASE_DOWN,
    DELEGATED_KEY_REFUSED,
    PAGE_ERRORS,
    PAGE_PARAMETERS,
    UNAUTHORIZED,
    Schema,
    error,
    json_body,
    page_of,
    query_parameter,
    ref,
    request_body,
    unavailable,
)

SCHEMAS: dict[str, Schema] = {
    "ContioWebhookEvent": {
        "type": "object",
        "required": ["event_type", "event_id", "timestamp", "partner_app_id", "data"],
        "properties": {
            "event_type": {"type": "string"},
            "event_id": {"type": "string", "maxLength": 128},
            "timestamp": {"type": ["string", "number"], "description": "RFC 3339 or unix s"},
            "partner_app_id": {"type": "string"},
            "data": {"type": "object"},
            "for_user": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
    },
    "WebhookResult": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["processed", "ignored", "duplicate"]}},
    },
    "UnmatchedEvent": {
        "type": "object",
        "required": [
            "id",
            "provider",
            "event_id",
            "event_type",
            "subject",
            "sent_at",
            "received_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "provider": {"type": "string"},
            "event_id": {"type": "string", "description": "The provider's event id."},
            "event_type": {"type": "string", "description": "The provider's event type."},
            "subject": {
                "type": ["string", "null"],
                "description": "The provider's id of the user the event is for.",
            },
            "sent_at": {"type": "string", "format": "date-time"},
            "received_at": {"type": "string", "format": "date-time"},
        },
    },
    "UnmatchedEventPage": page_of("UnmatchedEvent"),
}

PATHS: dict[str, Any] = {
    "/webhooks/contio": {
        "post": {
            "summary": "Contio's webhooks (signed with X-Contio-Signature); revokes connections, "
            "forwards every event to internal services or keeps it as unmatched",
            "description": "Checked in this order: configured (503), size (413), signature "
            "(401), envelope (400), freshness (400), replay (200 duplicate).",
            "security": [],
            "parameters": [
                {
                    "name": "X-Contio-Signature",
                    "in": "header",
                    "required": True,
                    "description": "sha256= and the hex HMAC-SHA256 of the raw body under the "
                    "webhook secret.",
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                }
            ],
            "requestBody": request_body(ref("ContioWebhookEvent")),
            "responses": {
                "200": json_body(
                    ref("WebhookResult"),
                    "Taken: processed, ignored (another type, no matching connection) or a "
                    "duplicate of an event already processed.",
                ),
                "400": error("Not an event, or too old.", "invalid_event", "stale_event"),
                "401": error("Missing or wrong signature; nothing changed.", "invalid_signature"),
                "413": error("The body is larger than 1 MiB.", "payload_too_large"),
                "503": unavailable("No webhook secret is configured.", "webhooks_not_configured"),
            },
        }
    },
    "/v1/events/unmatched": {
        "get": {
            "summary": "Provider webhook events that matched no connection, newest first "
            "(scope admin)",
            "description": "Kept for inspection until GATEWAY_UNMATCHED_EVENT_RETENTION_DAYS, "
            "never forwarded; their data is sealed and not shown. Any other query parameter is "
            "refused (unknown_parameter).",
            "parameters": [
                query_parameter(
                    "type",
                    {"type": "string", "minLength": 1, "maxLength": 64},
                    description="Only events of this provider event type.",
                ),
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": json_body(ref("UnmatchedEventPage"), "One page."),
                "400": error("A bad filter or page parameter.", *PAGE_ERRORS, "invalid_type"),
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the admin scope.", "insufficient_scope", DELEGATED_KEY_REFUSED
                ),
                "503": DATABASE_DOWN,
            },
        }
    },
}
