"""Service clients through the admin API (role operator), and revoking connections by selector."""

from __future__ import annotations

from typing import Any

from gateway.clients.store import SCOPES
from gateway.openapi.components import (
    BODY_ERRORS,
    DATABASE_DOWN,
    FORBIDDEN,
    TOO_LARGE,
    UNAUTHORIZED,
    Schema,
    error,
    json_body,
    ref,
    request_body,
    unavailable,
)

_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_RATE_LIMIT: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rate"],
    "properties": {
        "rate": {"type": "string", "maxLength": 40, "examples": ["50/s", "3000/min"]},
        "burst": {"type": ["integer", "null"], "minimum": 1},
    },
}
_SCOPES: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": 10,
    "items": {
        "type": "string",
        "enum": list(SCOPES),
    },
    "description": "A service's scopes, and an admin key's role (admin counts as security); "
    "no caller grants a role above its own.",
}
_RULES: Schema = {"type": "array", "maxItems": 100, "items": {"type": "string"}}

SCHEMAS: dict[str, Schema] = {
    "ServiceClient": {
        "type": "object",
        "required": ["id", "name", "key_prefix", "scopes", "allow", "revoked"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "key_prefix": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "allow": {"type": "array", "items": {"type": "string"}},
            "own_users_only": {"type": "boolean"},
            "user_pattern": _NULLABLE_STRING,
            "rate_limit": {
                "type": ["object", "null"],
                "properties": {"per_second": {"type": "number"}, "burst": {"type": "integer"}},
            },
            "revoked": {"type": "boolean"},
            "revoked_at": {"type": ["string", "null"], "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "ServiceClientWithKey": {
        "allOf": [
            ref("ServiceClient"),
            {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": "string", "description": "Shown only now."}},
            },
        ]
    },
    "ServiceClientList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("ServiceClient")}},
    },
    "ServiceClientRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "scopes"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "scopes": _SCOPES,
            "allow": _RULES,
            "own_users_only": {"type": "boolean", "default": False},
            "user_pattern": _NULLABLE_STRING,
            "rate_limit": {"oneOf": [_RATE_LIMIT, {"type": "null"}]},
        },
    },
    "ServiceClientPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "A given list replaces the client's; null lifts a user pattern or a rate "
        "limit; enabled false disables the client.",
        "properties": {
            "scopes": _SCOPES,
            "allow": _RULES,
            "own_users_only": {"type": "boolean"},
            "user_pattern": _NULLABLE_STRING,
            "rate_limit": {"oneOf": [_RATE_LIMIT, {"type": "null"}]},
            "enabled": {"type": "boolean"},
        },
    },
    "SelectorRevocation": {
        "type": "object",
        "additionalProperties": False,
        "description": "At least one selector; confirm must be the number of connections it "
        "matches now.",
        "properties": {
            "user_id": {"type": "string"},
            "provider": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["active", "needs_reauth", "credentials_unreadable"],
            },
            "label": {"type": "array", "items": {"type": "string"}},
            "confirm": {"type": "integer", "minimum": 0},
        },
    },
}

_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_RULE_ERRORS = (
    "invalid_scope",
    "invalid_rule",
    "invalid_user_pattern",
    "invalid_rate_limit",
    "invalid_client_name",
    "rule_not_found",
)
_NOT_FOUND = error("No client has this name.", "client_not_found")
_BAD = error("A malformed body or a value the client's rules refuse.", *BODY_ERRORS, *_RULE_ERRORS)
_COMMON = {"401": UNAUTHORIZED, "403": FORBIDDEN, "503": DATABASE_DOWN}

PATHS: dict[str, Any] = {
    "/v1/clients": {
        "get": {
            "summary": "List service clients (never their keys)",
            "responses": {"200": json_body(ref("ServiceClientList"), "Every client."), **_COMMON},
        },
        "post": {
            "summary": "Create a service client; its key is shown once",
            "requestBody": request_body(ref("ServiceClientRequest")),
            "responses": {
                "201": json_body(ref("ServiceClientWithKey"), "Created (Cache-Control: no-store)."),
                "400": _BAD,
                "409": error("A client has this name.", "client_exists"),
                "413": TOO_LARGE,
                **_COMMON,
            },
        },
    },
    "/v1/clients/{name}": {
        "get": {
            "summary": "Show a service client",
            "parameters": [_NAME],
            "responses": {
                "200": json_body(ref("ServiceClient"), "The client."),
                "404": _NOT_FOUND,
                **_COMMON,
            },
        },
        "patch": {
            "summary": "Change a client's scopes, rules, namespace, rate limit or enabled",
            "parameters": [_NAME],
            "requestBody": request_body(ref("ServiceClientPatch")),
            "responses": {
                "200": json_body(ref("ServiceClient"), "The client as it is now."),
                "400": _BAD,
                "404": _NOT_FOUND,
                "413": TOO_LARGE,
                **_COMMON,
            },
        },
        "delete": {
            "summary": "Disable a client: its key stops working on every replica",
            "parameters": [_NAME],
            "responses": {
                "200": json_body(ref("ServiceClient"), "The disabled client."),
                "404": _NOT_FOUND,
                **_COMMON,
            },
        },
    },
    "/v1/clients/{name}/key": {
        "post": {
            "summary": "Give a client a new key, shown once; the old one stops working",
            "parameters": [_NAME],
            "responses": {
                "200": json_body(
                    ref("ServiceClientWithKey"), "Re-keyed (Cache-Control: no-store)."
                ),
                "404": _NOT_FOUND,
                **_COMMON,
            },
        },
    },
    "/v1/connections/revocations": {
        "post": {
            "summary": "Revoke every connection a selector matches, confirmed by their number",
            "requestBody": request_body(ref("SelectorRevocation")),
            "responses": {
                "200": json_body(
                    {
                        "type": "object",
                        "required": [
                            "revoked",
                            "skipped",
                            "provider_revocations",
                            "provider_revocations_queued",
                            "items",
                        ],
                        "properties": {
                            "revoked": {"type": "integer"},
                            "skipped": {"type": "integer"},
                            "provider_revocations": {"type": "string", "enum": ["queued"]},
                            "provider_revocations_queued": {"type": "integer"},
                            "items": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                    "Revoked here, in batches; each connection with its upstream outcome "
                    "(pending: queued for the background retry). skipped: confirmed, but changed "
                    "or held by another writer meanwhile.",
                ),
                "400": error("A malformed body or selector.", *BODY_ERRORS, "invalid_label"),
                "413": TOO_LARGE,
                "428": error(
                    "confirm is missing or is not the number the selector matches "
                    "(details.affected); nothing was revoked.",
                    "confirmation_required",
                ),
                **_COMMON,
                "503": unavailable(
                    "A batch failed: those before it are revoked (details.revoked), it and the "
                    "rest are untouched; ask again for the number left.",
                    "revocation_interrupted",
                ),
            },
        }
    },
}
