"""The audit trail (scope admin): who did what to which connection, newest first."""

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
)

_MOMENT = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Schema] = {
    "AuditEvent": {
        "type": "object",
        "required": ["id", "occurred_at", "actor", "action", "connection_id", "details"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": {
                "type": "string",
                "description": "client:<name>, cli:<os user>, sso:<subject or email>, "
                "gateway:<job> or provider:<name>",
            },
            "action": {"type": "string"},
            "connection_id": {"type": ["string", "null"], "format": "uuid"},
            "details": {"type": "object"},
            "source_address": {
                "type": ["string", "null"],
                "description": "The request's source address; null outside a request (CLI, jobs).",
            },
            "user_agent": {"type": ["string", "null"]},
        },
    },
    "AuditEventPage": page_of("AuditEvent"),
}

PATHS: dict[str, Any] = {
    "/v1/audit-events": {
        "get": {
            "summary": "The audit trail, newest first (scope admin)",
            "description": "Each filter given must match: actor, action, connection_id, since "
            "(inclusive) and until (exclusive, later than since), the times RFC 3339 with a time "
            "zone. Any other query parameter is refused (unknown_parameter).",
            "parameters": [
                query_parameter("actor", {"type": "string", "minLength": 1, "maxLength": 200}),
                query_parameter("action", {"type": "string", "minLength": 1, "maxLength": 64}),
                query_parameter("connection_id", {"type": "string", "format": "uuid"}),
                query_parameter("since", _MOMENT),
                query_parameter("until", _MOMENT),
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": json_body(ref("AuditEventPage"), "One page."),
                "400": error(
                    "A bad filter or page parameter.",
                    *PAGE_ERRORS,
                    "invalid_actor",
                    "invalid_action",
                    "invalid_connection_id",
                    "invalid_since",
                    "invalid_until",
                ),
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the admin scope.", "insufficient_scope", DELEGATED_KEY_REFUSED
                ),
                "503": DATABASE_DOWN,
            },
        }
    },
}
