"""The admin API over connections (scope admin): list, show, refresh, revoke, import."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import (
    BODY_ERRORS,
    DATABASE_DOWN,
    PAGE_ERRORS,
    PAGE_PARAMETERS,
    PROVIDER,
    SCOPE,
    TOO_LARGE,
    UNAUTHORIZED,
    USER_ID,
    Schema,
    error,
    json_body,
    page_of,
    query_parameter,
    ref,
    request_body,
    unavailable,
    uuid_path,
)

STATUSES = ["active", "needs_reauth", "revoked"]
TIME: Schema = {"type": "string", "format": "date-time"}
MAYBE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Schema] = {
    "Connection": {
        "type": "object",
        "description": "A user's grant at a provider, as the admin API shows it; never a token. "
        "Times are RFC 3339 in UTC, ending in Z.",
        "required": [
            "id",
            "user_id",
            "provider",
            "status",
            "scopes",
            "access_token_expires_at",
            "refresh_token_expires_at",
            "last_refreshed_at",
            "last_refresh_error",
            "consecutive_failures",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "user_id": {"type": "string"},
            "provider": {"type": "string"},
            "status": {"enum": STATUSES},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "access_token_expires_at": MAYBE_TIME,
            "refresh_token_expires_at": MAYBE_TIME,
            "last_refreshed_at": MAYBE_TIME,
            "last_refresh_error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["code", "message", "at"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "at": MAYBE_TIME,
                        },
                    },
                ]
            },
            "consecutive_failures": {"type": "integer", "minimum": 0},
            "created_at": TIME,
            "updated_at": TIME,
        },
    },
    "ConnectionPage": page_of("Connection"),
    "RevokedConnection": {
        "allOf": [
            ref("Connection"),
            {
                "type": "object",
                "required": ["upstream_revocation"],
                "properties": {
                    "status": {"const": "revoked"},
                    "upstream_revocation": {
                        "enum": ["done", "pending"],
                        "description": "pending: the provider could not be reached; the worker "
                        "retries in the background. The connection is revoked here either way.",
                    },
                },
            },
        ]
    },
    "ConnectionImport": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "access_token", "refresh_token"],
        "description": "A user's existing tokens from another broker. Give expires_in or "
        "expires_at, not both (the provider's introspection exp wins when it has one).",
        "properties": {
            "user_id": USER_ID,
            "provider": PROVIDER,
            "access_token": {"type": "string", "minLength": 1, "maxLength": 8192},
            "refresh_token": {"type": "string", "minLength": 1, "maxLength": 8192},
            "expires_in": {"type": "integer", "minimum": 1, "maximum": 315360000},
            "expires_at": {"type": "string", "format": "date-time"},
            "scopes": {"type": "array", "items": SCOPE, "maxItems": 50},
            "replace": {
                "type": "boolean",
                "default": False,
                "description": "Replace a connection recorded for another provider account.",
            },
        },
    },
}

FORBIDDEN = error("The key lacks the admin scope.", "insufficient_scope")
NOT_FOUND = error("No connection has this id (a malformed id included).", "connection_not_found")
CONNECTION_ID = uuid_path("connection_id")
PROVIDER_FAILED = error(
    "The provider refused the gateway's client or failed.",
    "provider_client_rejected",
    "provider_error",
)


def connection_body(description: str) -> dict[str, Any]:
    return json_body(ref("Connection"), description)


PATHS: dict[str, Any] = {
    "/v1/connections": {
        "get": {
            "summary": "List connections, newest first (scope admin)",
            "description": "Any other query parameter is refused (unknown_parameter).",
            "parameters": [
                query_parameter("user_id", {"type": "string", "minLength": 1, "maxLength": 255}),
                query_parameter("provider", {"type": "string", "minLength": 1, "maxLength": 64}),
                query_parameter("status", {"enum": STATUSES}),
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": json_body(ref("ConnectionPage"), "One page."),
                "400": error(
                    "A bad filter or page parameter.",
                    *PAGE_ERRORS,
                    "invalid_user_id",
                    "invalid_provider",
                    "invalid_status",
                ),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "503": DATABASE_DOWN,
            },
        }
    },
    "/v1/connections/import": {
        "post": {
            "summary": "Import a user's existing tokens from another broker (scope admin)",
            "description": "The tokens are checked with the provider first: introspection when it "
            "has it (the refresh token must be active; an inactive access token is replaced by "
            "a refresh), else a refresh. They are never echoed or logged.",
            "requestBody": request_body(ref("ConnectionImport")),
            "responses": {
                "201": connection_body("A new connection."),
                "200": connection_body("The user's existing connection now holds these tokens."),
                "400": error("Bad body or provider.", *BODY_ERRORS, "unknown_provider"),
                "413": TOO_LARGE,
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "409": error(
                    "The user's connection belongs to another provider account; send "
                    '"replace": true to replace it.',
                    "identity_mismatch",
                ),
                "422": error("The provider does not accept the tokens.", "invalid_tokens"),
                "502": error(
                    "The provider refused the gateway's client or failed, or its ID token did "
                    "not validate.",
                    "provider_client_rejected",
                    "provider_error",
                    "invalid_id_token",
                ),
                "503": unavailable(
                    "The provider could not be reached, or the OAuth budget is spent.",
                    "provider_unavailable",
                    "token_budget_exhausted",
                ),
            },
        }
    },
    "/v1/connections/{connection_id}": {
        "get": {
            "summary": "Show a connection (scope admin)",
            "parameters": [CONNECTION_ID],
            "responses": {
                "200": connection_body("The connection."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "503": DATABASE_DOWN,
            },
        },
        "delete": {
            "summary": "Revoke a connection, here and at the provider (scope admin; idempotent)",
            "description": "Marks it revoked and erases its tokens at once, then revokes them at "
            "the provider (RFC 7009; for Contio also its admin API when configured). If the "
            "provider cannot be reached the answer says pending and the worker retries. "
            "Revoking a revoked connection changes nothing and answers the same.",
            "parameters": [CONNECTION_ID],
            "responses": {
                "200": json_body(ref("RevokedConnection"), "The revoked connection."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "503": DATABASE_DOWN,
            },
        },
    },
    "/v1/connections/{connection_id}/refresh": {
        "post": {
            "summary": "Refresh a connection's tokens now (scope admin)",
            "parameters": [CONNECTION_ID],
            "responses": {
                "200": connection_body("The connection after the refresh."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "409": error(
                    "The provider rejected the grant; the user must connect again.",
                    "reauth_required",
                ),
                "410": error("The connection was revoked.", "connection_revoked"),
                "502": PROVIDER_FAILED,
                "503": unavailable(
                    "The provider could not be reached, or the OAuth budget is spent.",
                    "provider_unavailable",
                    "token_budget_exhausted",
                ),
            },
        }
    },
}
