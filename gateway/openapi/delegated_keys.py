"""Delegated keys: gateway keys that may only proxy for one connection, issued, listed and revoked
by the connection's owner (scope connect) or an operator (scope admin)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    BODY_ERRORS,
    DATABASE_DOWN,
    DELEGATED_KEY_REFUSED,
    PAGE_ERRORS,
    PAGE_PARAMETERS,
    TOO_LARGE,
    UNAUTHORIZED,
    Schema,
    error,
    json_body,
    page_of,
    ref,
    request_body,
    uuid_path,
)

TIME: Schema = {"type": "string", "format": "date-time"}
RULE: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 300,
    "description": "METHOD /pattern, as a service client's allow rules: * is one segment, ** "
    "any number.",
}

SCHEMAS: dict[str, Schema] = {
    "DelegatedKeyRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 900},
            "allow": {
                "type": "array",
                "items": RULE,
                "minItems": 1,
                "maxItems": 50,
                "description": "Each rule must be covered by one of the issuer's own; absent: "
                "the issuer's own rules.",
            },
        },
    },
    "DelegatedKey": {
        "type": "object",
        "description": "A delegated key as listed: never the key, only its prefix.",
        "required": [
            "id",
            "connection_id",
            "prefix",
            "allow",
            "client",
            "issued_by",
            "created_at",
            "expires_at",
            "revoked_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "connection_id": {"type": "string", "format": "uuid"},
            "prefix": {"type": "string", "description": "The key's first characters (gw_…)."},
            "allow": {"type": "array", "items": {"type": "string"}},
            "client": {
                "type": ["string", "null"],
                "description": "The client whose proxy power (rules, rate limit, budget share) "
                "the key carries.",
            },
            "issued_by": {
                "type": "string",
                "description": "Who issued it: client:<name>, or cli:<login> for an operator.",
            },
            "created_at": TIME,
            "expires_at": TIME,
            "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "IssuedDelegatedKey": {
        "allOf": [
            ref("DelegatedKey"),
            {
                "type": "object",
                "required": ["key"],
                "properties": {
                    "key": {
                        "type": "string",
                        "pattern": "^gw_",
                        "description": "The key, shown only in this answer; send it as "
                        "Authorization: Bearer to /proxy/connections/{connection_id}/... only.",
                    }
                },
            },
        ]
    },
    "DelegatedKeyPage": page_of("DelegatedKey"),
}

CONNECTION_ID = uuid_path("connection_id")
NOT_FOUND = error("No connection has this id (a malformed id included).", "connection_not_found")
FORBIDDEN = error(
    "The key lacks the connect or admin scope or is a delegated key, or the caller sees the "
    "connection but does not own it.",
    "insufficient_scope",
    DELEGATED_KEY_REFUSED,
    "not_connection_owner",
)

PATHS: dict[str, Any] = {
    "/v1/connections/{connection_id}/keys": {
        "post": {
            "summary": "Issue a key that may only proxy for this connection (owner or operator)",
            "description": "The key carries the issuer's proxy power, never more: the issuer "
            "needs the proxy scope and must be able to proxy for this connection itself; its "
            "calls spend the issuer's rate limit and budget share, and each is audited "
            "(connection.delegated_key_used). It stops working when it expires, is revoked, the "
            "connection is revoked or transferred, or the issuer is disabled or loses the proxy "
            "scope. The key is in this answer only; the gateway keeps its hash.",
            "parameters": [CONNECTION_ID],
            "requestBody": request_body(ref("DelegatedKeyRequest")),
            "responses": {
                "201": json_body(ref("IssuedDelegatedKey"), "The key, shown this once."),
                "400": error(
                    "Bad body, a malformed rule, or a rule none of the issuer's covers "
                    "(details.rule).",
                    *BODY_ERRORS,
                    "invalid_rule",
                    "allow_not_subset",
                ),
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the connect or admin scope or is a delegated key, the caller "
                    "does not own the connection, or the issuer could not proxy for it itself "
                    "(details.reason: no_proxy_scope, outside_space, user_pattern).",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "not_connection_owner",
                    "delegation_forbidden",
                ),
                "404": NOT_FOUND,
                "410": error("The connection was revoked.", "connection_revoked"),
                "413": TOO_LARGE,
                "503": DATABASE_DOWN,
            },
        },
        "get": {
            "summary": "List the connection's delegated keys, newest first (owner or operator)",
            "description": "Revoked and expired keys included; never a key itself.",
            "parameters": [CONNECTION_ID, *PAGE_PARAMETERS],
            "responses": {
                "200": json_body(ref("DelegatedKeyPage"), "One page."),
                "400": error("A bad page parameter.", *PAGE_ERRORS),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "503": DATABASE_DOWN,
            },
        },
    },
    "/v1/connections/{connection_id}/keys/{key_id}": {
        "delete": {
            "summary": "Revoke a delegated key (owner or operator; idempotent)",
            "description": "Every replica stops accepting it within moments. Revoking a revoked "
            "key answers the same.",
            "parameters": [CONNECTION_ID, uuid_path("key_id")],
            "responses": {
                "204": {"description": "Revoked."},
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": error(
                    "No connection has this id, or it has no key with this id.",
                    "connection_not_found",
                    "delegated_key_not_found",
                ),
                "503": DATABASE_DOWN,
            },
        }
    },
}
