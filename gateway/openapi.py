"""The OpenAPI 3.1 document of the gateway's HTTP interface, grown with every endpoint."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def error(description: str, *codes: str) -> dict[str, Any]:
    listed = f" Codes: {', '.join(f'`{c}`' for c in codes)}." if codes else ""
    return {
        "description": description + listed,
        "headers": {"Gateway-Error": {"schema": {"type": "string", "const": "1"}}},
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


UNAUTHORIZED = error("Missing or wrong service key.", "unauthorized")
FORBIDDEN = error("The key lacks the scope or the rule.", "insufficient_scope", "proxy_forbidden")
HTML_PAGE = {
    "description": "An HTML page.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
REDIRECT = {
    "description": "Redirect.",
    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
}

PROXY_OPERATION: dict[str, Any] = {
    "summary": "Call the provider's API as the user (scope proxy and a matching allow rule)",
    "description": (
        "The path below the user id goes to the provider's API base, normalised; the query string "
        "unchanged. Bodies stream both ways. Forwarded request headers: Accept, Accept-Encoding, "
        "Accept-Language, Content-Type, Content-Encoding, Content-Language, Idempotency-Key, "
        "X-Client-Timezone, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, "
        "If-Range, Range, Prefer; the gateway sets Authorization (the user's token) and "
        "X-Request-Id. GET, HEAD, OPTIONS, PUT, DELETE and requests with an Idempotency-Key are "
        "retried on connection failures, 502, 503 and 504; redirects are returned, not followed. "
        "The provider's answers, errors included, come back as they are; the gateway's own errors "
        "carry Gateway-Error: 1."
    ),
    "parameters": [
        {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "Gateway-Provider",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        {"name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    "responses": {
        "default": {"description": "The provider's answer, passed through."},
        "400": error("Bad path or provider.", "invalid_path", "unknown_provider"),
        "401": UNAUTHORIZED,
        "403": error(
            "The key lacks the scope, no allow rule matches, or the user is outside the client's "
            "namespace (refusals are audited).",
            "insufficient_scope",
            "proxy_forbidden",
        ),
        "404": error("The user has no connection.", "connection_not_found"),
        "409": error("The user must connect again.", "reauth_required"),
        "410": error("The connection was revoked.", "connection_revoked"),
        "429": error(
            "The client's rate limit (per replica) is spent; see Retry-After.", "rate_limited"
        ),
        "502": error("The provider could not be reached, or broke off.", "upstream_unreachable"),
        "503": error(
            "The token needed refreshing and the provider is unavailable; see Retry-After.",
            "provider_unavailable",
            "token_budget_exhausted",
        ),
        "504": error("The provider did not answer in time.", "upstream_timeout"),
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    },
    "ConnectSessionRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id"],
        "properties": {
            "user_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "provider": {"type": "string", "maxLength": 64},
            "return_url": {"type": "string", "format": "uri", "maxLength": 2048},
            "login_hint": {"type": "string", "maxLength": 320},
            "scopes": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
            "replace_identity": {
                "type": "boolean",
                "default": False,
                "description": "Allow a re-connect to bind a different provider account; "
                "otherwise it is refused with identity_mismatch.",
            },
        },
    },
    "ConnectSession": {
        "type": "object",
        "required": ["id", "connect_url", "expires_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "connect_url": {"type": "string", "format": "uri"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
    "ProvisioningRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "email"],
        "properties": {
            "user_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "email": {"type": "string", "format": "email", "maxLength": 320},
            "name": {"type": "string", "maxLength": 255},
            "workspace_id": {
                "type": "string",
                "format": "uuid",
                "description": "Join this shared workspace; without it the user gets a personal one.",
            },
            "is_admin": {
                "type": "boolean",
                "description": "WORKSPACE_ADMIN instead of WORKSPACE_MEMBER (with workspace_id).",
            },
            "provider": {"type": "string", "maxLength": 64},
            "replace_identity": {"type": "boolean", "default": False},
        },
    },
    "ProvisioningStarted": {
        "type": "object",
        "required": ["id", "status", "user_provisioned", "verify_url", "expires_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"const": "code_sent"},
            "user_provisioned": {"type": "boolean", "description": "The user was created now."},
            "verify_url": {
                "type": "string",
                "format": "uri",
                "description": "The page where the user types the code; a capability: share it "
                "only with the user.",
            },
            "expires_at": {"type": "string", "format": "date-time", "description": "The code's."},
        },
    },
    "ProvisioningConnected": {
        "type": "object",
        "required": ["id", "status", "connection_id"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"const": "connected"},
            "connection_id": {"type": "string", "format": "uuid"},
        },
    },
    "Provisioning": {
        "type": "object",
        "required": ["id", "user_id", "provider", "status", "expires_at", "connection_id", "error"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "user_id": {"type": "string"},
            "provider": {"type": "string"},
            "status": {"enum": ["code_sent", "verified", "connected", "failed"]},
            "user_provisioned": {"type": "boolean"},
            "expires_at": {"type": "string", "format": "date-time"},
            "connection_id": {"type": ["string", "null"], "format": "uuid"},
            "error": {
                "type": ["string", "null"],
                "description": "Why it failed: provisioning_failed, code_expired, "
                "session_expired or identity_mismatch.",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
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
            "status": {"enum": ["active", "needs_reauth", "revoked"]},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "access_token_expires_at": {"type": ["string", "null"], "format": "date-time"},
            "refresh_token_expires_at": {"type": ["string", "null"], "format": "date-time"},
            "last_refreshed_at": {"type": ["string", "null"], "format": "date-time"},
            "last_refresh_error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["code", "message", "at"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "at": {"type": ["string", "null"], "format": "date-time"},
                        },
                    },
                ]
            },
            "consecutive_failures": {"type": "integer", "minimum": 0},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "ConnectionPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Connection"}},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as cursor for the next page; null on the last page.",
            },
        },
    },
    "RevokedConnection": {
        "allOf": [
            {"$ref": "#/components/schemas/Connection"},
            {
                "type": "object",
                "required": ["upstream_revocation"],
                "properties": {
                    "upstream_revocation": {
                        "enum": ["done", "pending"],
                        "description": "pending: the provider could not be reached; the worker "
                        "retries in the background. The connection is revoked here either way.",
                    }
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
            "user_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "provider": {"type": "string", "maxLength": 64, "description": "Default provider."},
            "access_token": {"type": "string", "minLength": 1, "maxLength": 8192},
            "refresh_token": {"type": "string", "minLength": 1, "maxLength": 8192},
            "expires_in": {"type": "integer", "minimum": 1},
            "expires_at": {"type": "string", "format": "date-time"},
            "scopes": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
            "replace": {
                "type": "boolean",
                "default": False,
                "description": "Replace a connection recorded for another provider account.",
            },
        },
    },
    "AuditEvent": {
        "type": "object",
        "required": ["id", "occurred_at", "actor", "action", "connection_id", "details"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": {
                "type": "string",
                "description": "client:<name>, cli:<os user>, gateway:<job> or provider:<name>",
            },
            "action": {"type": "string"},
            "connection_id": {"type": ["string", "null"], "format": "uuid"},
            "details": {"type": "object"},
        },
    },
    "AuditEventPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}

ADMIN_FORBIDDEN = error("The key lacks the admin scope.", "insufficient_scope")
CONNECTION_NOT_FOUND = error("No connection has this id.", "connection_not_found")
CONNECTION_ID = {
    "name": "connection_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
PAGE_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
]
PAGE_ERRORS = ("unknown_parameter", "invalid_limit", "invalid_cursor")


def query_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def connection_body(description: str) -> dict[str, Any]:
    return json_body({"$ref": "#/components/schemas/Connection"}, description)


PROVISIONING_ID = {
    "name": "provisioning_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body gets the first answer (kept 24 h).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
PROVISIONING_NOT_FOUND = error(
    "No provisioning has this id for this client.", "provisioning_not_found"
)
PROVISIONING_CONFLICT = error(
    "Closed after too many wrong codes (start again); the user signed in as another account "
    "than the one connected; or another verify is running (Retry-After).",
    "provisioning_failed",
    "identity_mismatch",
    "provisioning_in_progress",
)
PROVISIONING_GONE = error(
    "The code (3 min) or the signed-in session (30 min) expired: start again.",
    "code_expired",
    "session_expired",
)
PROVIDER_UNAVAILABLE = {
    **error(
        "The provider is unavailable or the OAuth budget is spent; retry after Retry-After.",
        "provider_unavailable",
        "token_budget_exhausted",
    ),
    "headers": {
        "Gateway-Error": {"schema": {"type": "string", "const": "1"}},
        "Retry-After": {"schema": {"type": "integer"}},
    },
}


PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Liveness",
            "security": [],
            "responses": {"200": json_body({"type": "object"}, "The process is up.")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the database answers and its schema is current",
            "security": [],
            "responses": {
                "200": json_body({"type": "object"}, "Ready."),
                "503": error("Not ready.", "database_unavailable", "schema_outdated"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics: this process's counters and the cluster's gauges",
            "security": [],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": json_body({"type": "object"}, "OpenAPI 3.1.")},
        }
    },
    "/v1/connect-sessions": {
        "post": {
            "summary": "Open a connect session for one of your users (scope connect)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ConnectSessionRequest"}
                    }
                },
            },
            "responses": {
                "201": json_body(
                    {"$ref": "#/components/schemas/ConnectSession"},
                    "Send the user's browser to connect_url within 10 minutes.",
                ),
                "400": error(
                    "Bad request.",
                    "invalid_json",
                    "validation_error",
                    "unknown_provider",
                    "return_url_not_allowed",
                ),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
            },
        }
    },
    "/connect": {
        "get": {
            "summary": "Browser entry: binds the flow to this browser and redirects to the provider",
            "security": [],
            "parameters": [
                {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "302": REDIRECT,
                "400": error(
                    "Unknown, used or expired link (an HTML page, JSON when asked).",
                    "invalid_connect_token",
                    "connect_session_used",
                    "connect_session_expired",
                ),
            },
        }
    },
    "/oauth/callback": {
        "get": {
            "summary": "The provider's redirect back; stores the connection",
            "security": [],
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in ("code", "state", "error", "error_description", "iss")
            ],
            "responses": {
                "200": HTML_PAGE,
                "302": REDIRECT,
                "400": error(
                    "The flow failed; nothing was stored (an HTML page, JSON when asked).",
                    "invalid_state",
                    "connect_session_used",
                    "connect_session_expired",
                    "browser_mismatch",
                    "access_denied",
                    "provider_error",
                    "missing_code",
                    "token_exchange_failed",
                ),
                "409": error(
                    "The user signed in as a different provider account than the one already "
                    "connected, and the session did not ask to replace it; nothing was stored.",
                    "identity_mismatch",
                ),
                "503": error(
                    "The provider is unavailable or its token-endpoint budget is spent; open the "
                    "connect link again shortly.",
                    "provider_unavailable",
                ),
            },
        }
    },
    "/v1/provisioning": {
        "post": {
            "summary": "Provision a user by partner-auth: the provider emails them a code "
            "(scope connect)",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ProvisioningRequest"}
                    }
                },
            },
            "responses": {
                "201": json_body(
                    {"$ref": "#/components/schemas/ProvisioningStarted"},
                    "The code was sent. A replay of an Idempotency-Key carries "
                    "Idempotent-Replayed: true (and replays a 4xx answer too).",
                ),
                "400": error(
                    "Bad request, or the provider found a field bad.",
                    "invalid_json",
                    "validation_error",
                    "unknown_provider",
                    "provisioning_unsupported",
                    "invalid_idempotency_key",
                    "provider_refused_request",
                ),
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the connect scope, or the workspace belongs to another "
                    "partner app.",
                    "insufficient_scope",
                    "workspace_not_authorized",
                ),
                "404": error("The provider has no such workspace.", "workspace_not_found"),
                "409": error(
                    "The user already belongs to another workspace (details.workspace_id), or "
                    "the first request with this Idempotency-Key is still running (Retry-After).",
                    "workspace_conflict",
                    "idempotency_in_flight",
                ),
                "422": error(
                    "The Idempotency-Key was used with another body.", "idempotency_key_reused"
                ),
                "503": PROVIDER_UNAVAILABLE,
            },
        }
    },
    "/v1/provisioning/{provisioning_id}": {
        "get": {
            "summary": "Where a provisioning stands (scope connect; only the client that "
            "started it)",
            "parameters": [PROVISIONING_ID],
            "responses": {
                "200": json_body({"$ref": "#/components/schemas/Provisioning"}, "The state."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": PROVISIONING_NOT_FOUND,
            },
        }
    },
    "/v1/provisioning/{provisioning_id}/verify": {
        "post": {
            "summary": "Submit the user's code: the gateway verifies it, consents, exchanges "
            "the code and stores the connection (scope connect; only the client that started "
            "it)",
            "parameters": [PROVISIONING_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["code"],
                            "properties": {"code": {"type": "string", "maxLength": 32}},
                        }
                    }
                },
            },
            "responses": {
                "200": json_body(
                    {"$ref": "#/components/schemas/ProvisioningConnected"},
                    "Connected; every later verify answers the same.",
                ),
                "400": error(
                    "Wrong code (details.attempts_remaining), or a bad body.",
                    "invalid_code",
                    "invalid_json",
                    "validation_error",
                ),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": PROVISIONING_NOT_FOUND,
                "409": PROVISIONING_CONFLICT,
                "410": PROVISIONING_GONE,
                "502": error("The provider failed the flow.", "provider_error", "grant_rejected"),
                "503": PROVIDER_UNAVAILABLE,
            },
        }
    },
    "/provision/{provisioning_id}": {
        "get": {
            "summary": "The verify page: a form for the user's code (the verify_url)",
            "security": [],
            "parameters": [
                PROVISIONING_ID,
                {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": HTML_PAGE,
                "404": {**HTML_PAGE, "description": "provisioning_not_found (an HTML page)."},
                "409": {**HTML_PAGE, "description": "provisioning_failed (an HTML page)."},
                "410": {**HTML_PAGE, "description": "code_expired, session_expired (HTML)."},
            },
        },
        "post": {
            "summary": "The verify page's form: token and code; shows the outcome",
            "security": [],
            "parameters": [PROVISIONING_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["token", "code"],
                            "properties": {"token": {"type": "string"}, "code": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": {
                "200": {**HTML_PAGE, "description": "Connected (an HTML page)."},
                "400": {
                    **HTML_PAGE,
                    "description": "invalid_code: the form again, with a message.",
                },
                "404": {**HTML_PAGE, "description": "provisioning_not_found."},
                "409": {
                    **HTML_PAGE,
                    "description": "provisioning_failed, identity_mismatch, or "
                    "provisioning_in_progress (the form again).",
                },
                "410": {**HTML_PAGE, "description": "code_expired, session_expired."},
                "503": {**HTML_PAGE, "description": "provider_unavailable: the form again."},
            },
        },
    },
    "/proxy/users/{user_id}/{path}": {
        method.lower(): PROXY_OPERATION
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    },
    "/webhooks/contio": {
        "post": {
            "summary": "Contio's webhooks (signed with X-Contio-Signature); revokes connections",
            "security": [],
            "parameters": [
                {
                    "name": "X-Contio-Signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ContioWebhookEvent"}
                    }
                },
            },
            "responses": {
                "200": json_body(
                    {"$ref": "#/components/schemas/WebhookResult"},
                    "Taken: processed, ignored (another type, no matching connection) or a "
                    "duplicate of an event already processed.",
                ),
                "400": error("Not an event, or too old.", "invalid_event", "stale_event"),
                "401": error("Missing or wrong signature; nothing changed.", "invalid_signature"),
                "413": error("The body is larger than 1 MiB.", "payload_too_large"),
                "503": error("No webhook secret is configured.", "webhooks_not_configured"),
            },
        }
    },
    "/v1/connections": {
        "get": {
            "summary": "List connections, newest first (scope admin)",
            "parameters": [
                query_parameter("user_id", {"type": "string", "maxLength": 255}),
                query_parameter("provider", {"type": "string", "maxLength": 64}),
                query_parameter("status", {"enum": ["active", "needs_reauth", "revoked"]}),
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": json_body({"$ref": "#/components/schemas/ConnectionPage"}, "One page."),
                "400": error(
                    "A bad filter or page parameter.",
                    *PAGE_ERRORS,
                    "invalid_user_id",
                    "invalid_provider",
                    "invalid_status",
                ),
                "401": UNAUTHORIZED,
                "403": ADMIN_FORBIDDEN,
            },
        }
    },
    "/v1/connections/import": {
        "post": {
            "summary": "Import a user's existing tokens from another broker (scope admin)",
            "description": "The tokens are checked with the provider first: introspection when it "
            "has it (the refresh token must be active; an inactive access token is replaced by "
            "a refresh), else a refresh. They are never echoed or logged.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ConnectionImport"}
                    }
                },
            },
            "responses": {
                "201": connection_body("A new connection."),
                "200": connection_body("The user's existing connection now holds these tokens."),
                "400": error(
                    "Bad body or provider.",
                    "invalid_json",
                    "validation_error",
                    "body_too_large",
                    "unknown_provider",
                ),
                "401": UNAUTHORIZED,
                "403": ADMIN_FORBIDDEN,
                "409": error(
                    "The user's connection belongs to another provider account; send "
                    '"replace": true to replace it.',
                    "identity_mismatch",
                ),
                "422": error("The provider does not accept the tokens.", "invalid_tokens"),
                "502": error(
                    "The provider refused the gateway's client or failed.",
                    "provider_client_rejected",
                    "provider_error",
                ),
                "503": error("The provider could not be reached.", "provider_unavailable"),
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
                "403": ADMIN_FORBIDDEN,
                "404": CONNECTION_NOT_FOUND,
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
                "200": json_body(
                    {"$ref": "#/components/schemas/RevokedConnection"}, "The revoked connection."
                ),
                "401": UNAUTHORIZED,
                "403": ADMIN_FORBIDDEN,
                "404": CONNECTION_NOT_FOUND,
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
                "403": ADMIN_FORBIDDEN,
                "404": CONNECTION_NOT_FOUND,
                "409": error(
                    "The provider rejected the grant; the user must connect again.",
                    "reauth_required",
                ),
                "410": error("The connection was revoked.", "connection_revoked"),
                "502": error(
                    "The provider refused the gateway's client or failed.",
                    "provider_client_rejected",
                    "provider_error",
                ),
                "503": {
                    **error("The provider could not be reached.", "provider_unavailable"),
                    "headers": {
                        "Gateway-Error": {"schema": {"type": "string", "const": "1"}},
                        "Retry-After": {"schema": {"type": "integer"}},
                    },
                },
            },
        }
    },
    "/v1/audit-events": {
        "get": {
            "summary": "The audit trail, newest first (scope admin)",
            "parameters": [
                query_parameter("connection_id", {"type": "string", "format": "uuid"}),
                query_parameter("action", {"type": "string", "maxLength": 64}),
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": json_body({"$ref": "#/components/schemas/AuditEventPage"}, "One page."),
                "400": error(
                    "A bad filter or page parameter.",
                    *PAGE_ERRORS,
                    "invalid_connection_id",
                    "invalid_action",
                ),
                "401": UNAUTHORIZED,
                "403": ADMIN_FORBIDDEN,
            },
        }
    },
}


@lru_cache(maxsize=1)
def build() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gateway",
            "version": "0.1.0",
            "description": "Connect users' OAuth accounts and call their APIs without holding tokens.",
        },
        "servers": [{"url": "/"}],
        "security": [{"serviceKey": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "serviceKey": {"type": "http", "scheme": "bearer", "description": "gw_… key"}
            },
        },
    }


async def document(request: Request) -> Response:
    return JSONResponse(build())
