"""A connection's timeline (scope admin, or connect for a connection the client may see): what
happened to it, newest first."""

from __future__ import annotations

from typing import Any

from gateway.connections.timeline.entries import KINDS
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
    uuid_path,
)

MOMENT: Schema = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Schema] = {
    "TimelineEntry": {
        "type": "object",
        "description": "One thing that happened to the connection. Never holds a token.",
        "required": ["id", "at", "kind", "actor", "details"],
        "properties": {
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "Stable; the id of its audit entry, or of its outbound event "
                "(the event's webhook-id).",
            },
            "at": MOMENT,
            "kind": {"type": "string", "enum": list(KINDS)},
            "actor": {
                "type": ["string", "null"],
                "description": "client:<name>, cli:<os user>, gateway:<job> or provider:<name>; "
                "null when not known (outbound events).",
            },
            "details": {
                "type": "object",
                "description": "Small and kind-specific. outbound_event: type, status, reason "
                "and deliveries (endpoint, state pending|retrying|delivered|dead, attempts, "
                "last_error, delivered_at, abandoned_at, next_attempt_at); webhook_received: "
                "type, event_id, sent_at; refreshed and refresh_failed: spender (and code, "
                "message).",
            },
        },
    },
    "TimelinePage": page_of("TimelineEntry"),
}

NOT_SEEN = error("No connection has this id, or the client may not see it.", "connection_not_found")
FORBIDDEN = error(
    "The key holds neither the admin nor the connect scope.",
    "insufficient_scope",
    DELEGATED_KEY_REFUSED,
)
CONNECTION_ID = uuid_path("connection_id")

PATHS: dict[str, Any] = {
    "/v1/connections/{connection_id}/events": {
        "get": {
            "summary": "The connection's timeline, newest first (scope admin, or connect)",
            "description": "Created, re-connected, refreshed (and failed), needs_reauth, "
            "paused, updated, revoked, provider webhooks received for it, outbound events "
            "about it and their delivery. A connect client sees the timelines of the "
            "connections it may see. Any other query parameter is refused "
            "(unknown_parameter).",
            "parameters": [
                CONNECTION_ID,
                query_parameter(
                    "kind",
                    {"type": "array", "items": {"type": "string", "enum": list(KINDS)}},
                    description="Only these kinds (repeat the parameter).",
                    style="form",
                    explode=True,
                ),
                query_parameter("since", MOMENT, description="At or after this time."),
                query_parameter("until", MOMENT, description="Before this time."),
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": json_body(ref("TimelinePage"), "One page."),
                "400": error(
                    "A bad filter or page parameter.",
                    *PAGE_ERRORS,
                    "invalid_kind",
                    "invalid_since",
                    "invalid_until",
                ),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_SEEN,
                "503": DATABASE_DOWN,
            },
        }
    },
    "/v1/connections/{connection_id}/events/{entry_id}": {
        "get": {
            "summary": "One entry of the connection's timeline (scope admin, or connect)",
            "parameters": [CONNECTION_ID, uuid_path("entry_id")],
            "responses": {
                "200": json_body(ref("TimelineEntry"), "The entry."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": error(
                    "No such connection the client may see, or no such entry in its timeline "
                    "(a malformed id included).",
                    "connection_not_found",
                    "timeline_entry_not_found",
                ),
                "503": DATABASE_DOWN,
            },
        }
    },
}
