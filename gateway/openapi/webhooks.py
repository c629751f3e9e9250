"""Inbound webhooks from providers: Contio tells the gateway that a user revoked its access."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import Schema, error, json_body, ref, request_body, unavailable

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
}

PATHS: dict[str, Any] = {
    "/webhooks/contio": {
        "post": {
            "summary": "Contio's webhooks (signed with X-Contio-Signature); revokes connections",
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
}
