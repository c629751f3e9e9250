"""The admin API over connections: list, show, update, obtain a fresh token (these four also for
connect-scope clients: ``connection_updates``), refresh, revoke (and its preview), import,
transfer."""

from __future__ import annotations

from typing import Any

from gateway.openapi import client_credentials, revocation, verification
from gateway.openapi import connection_updates as updates
from gateway.openapi.components import (
    ADDITIONAL,
    AUTH_MODES,
    BODY_ERRORS,
    DATABASE_DOWN,
    DELEGATED_KEY_REFUSED,
    PAGE_ERRORS,
    PAGE_PARAMETERS,
    PROVIDER,
    SCOPE,
    STATUSES,
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
            "owner",
            "confined",
            "is_default",
            "auth_mode",
            "requested",
            "status",
            "enabled",
            "metadata",
            "external_ids",
            "labels",
            "settings",
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
            "owner": {
                "type": "string",
                "description": "The client that owns the connection (the only one that may "
                "change it besides operators), or operator.",
            },
            "confined": {
                "type": "boolean",
                "description": "true: in its owner's own space (a client with own_users_only); "
                "false: in the space unconfined clients share.",
            },
            "is_default": {
                "type": "boolean",
                "description": "The user's default connection to the provider in its space: the "
                "one /proxy/users/{user_id}/... uses and a (non-additional) connect re-connects.",
            },
            **client_credentials.CONNECTION_FIELDS,
            "status": {"enum": STATUSES},
            "auth_mode": {
                "enum": AUTH_MODES,
                "description": "How it holds or obtains its credential: oauth_user (a user's "
                "OAuth grant), client_credentials (the gateway's own client, app-level: never a "
                "user's default), or a stored credential (api_key, basic, header), never shown.",
            },
            **updates.CONNECTION_FIELDS,
            "settings": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "What the provider's token response said about the connection "
                "(instance_url, as the provider's token_response keeps), or an operator set; the "
                "values an api_base_url template names. Never a secret.",
            },
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
    **revocation.SCHEMAS,
    "ConnectionImport": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "access_token", "refresh_token"],
        "description": "A user's existing tokens from another broker. Give the access token's "
        "expiry at most one way: expires_at, or expires_in (counted from issued_at when given, "
        "which may not be in the future); the provider's introspection exp wins when it has "
        "one. metadata, labels and external_ids, when given, become the connection's.",
        "properties": {
            "user_id": USER_ID,
            "provider": PROVIDER,
            "access_token": {"type": "string", "minLength": 1, "maxLength": 8192},
            "refresh_token": {"type": "string", "minLength": 1, "maxLength": 8192},
            "expires_in": {"type": "integer", "minimum": 1, "maximum": 315360000},
            "issued_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "metadata": ref("Metadata"),
            "labels": ref("Labels"),
            "external_ids": ref("ExternalIds"),
            "scopes": {"type": "array", "items": SCOPE, "maxItems": 50},
            "replace": {
                "type": "boolean",
                "default": False,
                "description": "Replace a connection recorded for another provider account.",
            },
            "owner": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "A client's name: it owns the new connection, and its "
                "confinement decides the space. Absent: owned by operator, in the shared space.",
            },
            **ADDITIONAL,
        },
    },
    "ConnectionTransfer": {
        "type": "object",
        "additionalProperties": False,
        "required": ["to"],
        "properties": {
            "to": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "A client's name, or operator.",
            }
        },
    },
}

FORBIDDEN = error("The key lacks the admin scope.", "insufficient_scope", DELEGATED_KEY_REFUSED)
NOT_FOUND = error("No connection has this id (a malformed id included).", "connection_not_found")
CONNECTION_ID = uuid_path("connection_id")


def connection_body(description: str) -> dict[str, Any]:
    return json_body(ref("Connection"), description)


PATHS: dict[str, Any] = {
    "/v1/connections": {
        "get": {
            "summary": f"List connections, newest first ({updates.SCOPES})",
            "description": "Every filter given must match. Any other query parameter is "
            "refused (unknown_parameter).",
            "parameters": [
                query_parameter("user_id", {"type": "string", "minLength": 1, "maxLength": 255}),
                query_parameter("provider", {"type": "string", "minLength": 1, "maxLength": 64}),
                query_parameter("status", {"enum": STATUSES}),
                query_parameter(
                    "auth_mode",
                    {"enum": AUTH_MODES},
                    description="Only connections that hold or obtain their credential so.",
                ),
                *updates.LIST_PARAMETERS,
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
                    "invalid_auth_mode",
                    *updates.LIST_ERRORS,
                ),
                "401": UNAUTHORIZED,
                "403": updates.FORBIDDEN,
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
                "400": error(
                    "Bad body or provider (one that takes stored credentials included).",
                    *BODY_ERRORS,
                    "unknown_provider",
                    "not_an_oauth_provider",
                ),
                "413": TOO_LARGE,
                "401": UNAUTHORIZED,
                "404": error("No client has the owner's name.", "client_not_found"),
                "403": error(
                    "The key lacks the admin scope, or the owner's user_pattern does not admit "
                    "the user id.",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "user_not_allowed",
                ),
                "409": error(
                    "The user's connection belongs to another provider account (send "
                    '"replace": true to replace it), or to another owner than the one named; the '
                    "account is already connected for the user (details.connection_id); an "
                    "additional connection was asked for before the rollout's contract step; or "
                    "the owner already uses one of the external ids for another connection.",
                    "identity_mismatch",
                    "duplicate_account",
                    "additional_connections_unavailable",
                    "connection_owned_by_other_client",
                    "external_id_taken",
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
        "get": updates.SHOW,
        "patch": updates.UPDATE,
        "delete": {
            "summary": "Revoke a connection, here and at the provider (scope admin; idempotent)",
            "description": "Marks it revoked and erases its tokens at once, then revokes them at "
            "the provider (RFC 7009; for Contio also its admin API when configured and no other "
            "active connection holds the same account). If the provider cannot be reached the "
            "answer says pending and the worker retries. Revoking a revoked connection changes "
            "nothing and answers the same, its revocation saying upstream none.",
            "parameters": [CONNECTION_ID],
            "responses": {
                "200": json_body(ref("RevokedConnection"), "The revoked connection."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "409": error(
                    "The connection moved to another provider account while it was being "
                    "revoked; try again.",
                    "connection_changed",
                ),
                "503": DATABASE_DOWN,
            },
        },
    },
    "/v1/connections/{connection_id}/revocation": {
        "get": {
            "summary": "What revoking a connection would do, before it is done (scope admin)",
            "description": "Which other connections hold a grant for the same provider account "
            "and whether the provider's account-wide revocation would be used. Changes nothing.",
            "parameters": [CONNECTION_ID],
            "responses": {
                "200": json_body(ref("Revocation"), "What the revocation would do now."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "503": DATABASE_DOWN,
            },
        }
    },
    "/v1/connections/{connection_id}/refresh": {
        "post": {
            "summary": "Refresh a connection's tokens now (scope admin)",
            "parameters": [CONNECTION_ID],
            "responses": updates.refresh_responses(FORBIDDEN, NOT_FOUND),
        }
    },
    "/v1/connections/{connection_id}/transfer": {
        "post": {
            "summary": "Give a connection to another owner, in that owner's space (scope admin)",
            "description": "A confined client's connections live in its own space; unconfined "
            "clients and operator share one. Audited as connection.transferred.",
            "parameters": [CONNECTION_ID],
            "requestBody": request_body(ref("ConnectionTransfer")),
            "responses": {
                "200": connection_body("The connection, with its new owner."),
                "400": error("Bad body.", *BODY_ERRORS),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": error(
                    "No connection has this id, or no client has this name.",
                    "connection_not_found",
                    "client_not_found",
                ),
                "409": error(
                    "The target's space already holds a connection for the user and provider, or "
                    "the new owner already uses one of its external ids for another connection "
                    "(details.existing; details.external_id).",
                    "transfer_conflict",
                ),
                "503": DATABASE_DOWN,
            },
        }
    },
}
PATHS.update(updates.PATHS)
SCHEMAS.update(updates.SCHEMAS)
PATHS.update(client_credentials.PATHS)
SCHEMAS.update(client_credentials.SCHEMAS)
PATHS.update(verification.PATHS)
SCHEMAS.update(verification.SCHEMAS)
