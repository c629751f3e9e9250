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
    "/proxy/users/{user_id}/{path}": {
        "get": {
            "summary": "Call the provider's API as the user (scope proxy and a matching allow rule)",
            "parameters": [
                {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "Gateway-Provider",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "default": {"description": "The provider's answer, passed through."},
                "400": error("Bad path or provider.", "invalid_path", "unknown_provider"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": error("The user has no connection.", "connection_not_found"),
                "409": error("The user must connect again.", "reauth_required"),
                "410": error("The connection was revoked.", "connection_revoked"),
                "502": error("The provider could not be reached.", "upstream_unreachable"),
                "504": error("The provider did not answer in time.", "upstream_timeout"),
            },
        }
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
