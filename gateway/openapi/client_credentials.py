"""The connections area's client-credentials part: creating an app-level connection whose token
the gateway obtains with its own client credentials. ``connections`` puts it in place."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    BODY_ERRORS,
    DELEGATED_KEY_REFUSED,
    PROVIDER,
    SCOPE,
    TOO_LARGE,
    UNAUTHORIZED,
    USER_ID,
    Schema,
    error,
    json_body,
    ref,
    request_body,
)
from gateway.openapi.connection_updates import TOKEN_ENDPOINT_FAILURES

RESOURCE: Schema = {"type": "string", "minLength": 1, "maxLength": 2048, "format": "uri"}

# What a connection shows of how it obtains its tokens (``Connection`` has it).
CONNECTION_FIELDS: dict[str, Schema] = {
    "requested": {
        "description": "What a client_credentials connection asks the token endpoint for; null "
        "for other modes.",
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "required": ["scopes", "audience", "resources"],
                "properties": {
                    "scopes": {"type": "array", "items": {"type": "string"}},
                    "audience": {"type": ["string", "null"]},
                    "resources": {"type": "array", "items": {"type": "string"}},
                },
            },
        ],
    },
}

SCHEMAS: dict[str, Schema] = {
    "ClientCredentialsConnection": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id"],
        "description": "An app-level connection: the gateway exchanges its own client credentials "
        "at the provider (RFC 6749 §4.4) now and before each token expires.",
        "properties": {
            "user_id": {
                **USER_ID,
                "description": "A name for the app (e.g. app:reporting); a client's user_pattern "
                "must admit it.",
            },
            "provider": PROVIDER,
            "grant_type": {
                "type": "string",
                "default": "client_credentials",
                "description": "client_credentials; password is refused (RFC 9700 forbids it).",
            },
            "scopes": {"type": "array", "items": SCOPE, "maxItems": 50},
            "audience": {"type": "string", "minLength": 1, "maxLength": 2048},
            "resource": {
                "description": "RFC 8707 resource indicators: absolute URIs, no fragment.",
                "oneOf": [RESOURCE, {"type": "array", "items": RESOURCE, "maxItems": 10}],
            },
            "owner": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "Operators only: the owning client's name (default operator). A "
                "client always owns what it creates.",
            },
            "metadata": ref("Metadata"),
            "labels": ref("Labels"),
        },
    }
}

PATHS: dict[str, Any] = {
    "/v1/connections/client-credentials": {
        "post": {
            "summary": "Create a client-credentials connection (scope admin, or scope connect "
            "for a user id the client's pattern admits)",
            "description": "The gateway exchanges its client credentials at the provider first; "
            "nothing is stored if the provider refuses. The connection is never a user's "
            "default: call it through /proxy/connections/{id}/.... The token is never shown.",
            "requestBody": request_body(ref("ClientCredentialsConnection")),
            "responses": {
                "201": json_body(ref("Connection"), "The new connection (with its ETag)."),
                "400": error(
                    "Bad body or provider; a grant other than client_credentials (password: "
                    "RFC 9700 forbids it), or one the provider's grant_types do not list.",
                    *BODY_ERRORS,
                    "unknown_provider",
                    "grant_not_supported",
                ),
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the connect or admin scope; a client named another owner; or "
                    "the owner's user_pattern does not admit the user id.",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "user_not_allowed",
                ),
                "404": error("No client has the owner's name.", "client_not_found"),
                "409": error(
                    "Before the rollout's contract step, the space already holds a connection "
                    "for this user id and provider.",
                    "additional_connections_unavailable",
                ),
                "413": TOO_LARGE,
                **TOKEN_ENDPOINT_FAILURES,
            },
        }
    }
}
