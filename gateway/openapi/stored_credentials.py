"""``POST /v1/connections/credentials`` (an operator supplies a stored credential) and the hosted
credential form's ``POST /connect/credential`` (a user types one in)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    BODY_ERRORS,
    DATABASE_UNAVAILABLE,
    DELEGATED_KEY_REFUSED,
    HTML,
    PROVIDER,
    REDIRECT,
    TOO_LARGE,
    UNAUTHORIZED,
    USER_ID,
    error,
    html_page,
    json_body,
    ref,
    request_body,
    unavailable,
)

SECRET = {"type": "string", "minLength": 1, "maxLength": 4096, "writeOnly": True}

SCHEMAS: dict[str, Any] = {
    "ConnectionCredential": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id"],
        "description": "A stored credential for a provider whose auth_mode takes one: api_key; "
        "username and password (basic); or value (header). Never echoed, logged or returned.",
        "properties": {
            "user_id": USER_ID,
            "provider": PROVIDER,
            "kind": {"enum": ["api_key", "basic", "header"]},
            "api_key": SECRET,
            "username": {"type": "string", "minLength": 1, "maxLength": 255},
            "password": SECRET,
            "value": SECRET,
            "owner": {"type": "string", "minLength": 1, "maxLength": 100},
            "additional": {"type": "boolean"},
        },
    },
}

PATHS: dict[str, Any] = {
    "/v1/connections/credentials": {
        "post": {
            "summary": "Store a verified credential as a connection (scope admin)",
            "description": "The provider's verification request checks it first; one the "
            "provider refuses is not stored. Without additional it replaces the credential of "
            "the user's default connection in the owner's space, or creates that connection. "
            "Audited as connection.credential_stored.",
            "requestBody": request_body(ref("ConnectionCredential")),
            "responses": {
                "201": json_body(ref("Connection"), "A new connection."),
                "200": json_body(
                    ref("Connection"), "The default connection, its credential replaced."
                ),
                "400": error(
                    "Bad body, unknown provider, a provider that takes OAuth grants, or fields "
                    "that do not fit the provider's kind (details.missing, details.unexpected).",
                    *BODY_ERRORS,
                    "unknown_provider",
                    "not_a_credential_provider",
                ),
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the admin scope, or the owner's user_pattern does not admit "
                    "the user id.",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "user_not_allowed",
                ),
                "404": error("No client has the owner's name.", "client_not_found"),
                "409": error(
                    "The user's default connection there belongs to another owner, or another "
                    "flow created it at the same moment.",
                    "connection_owned_by_other_client",
                    "connection_conflict",
                ),
                "413": TOO_LARGE,
                "422": error(
                    "The provider refused the credential (details.upstream_status, "
                    "details.reason); nothing was stored.",
                    "credential_rejected",
                ),
                "502": error("The provider's answer could not be used.", "provider_error"),
                "503": unavailable(
                    "The provider could not be reached, or answered 5xx or 429.",
                    "provider_unavailable",
                ),
            },
        }
    },
    "/connect/credential": {
        "post": {
            "summary": "The credential form: the connect session's token and the credential",
            "description": "Shown by GET /connect for a provider that takes stored credentials. "
            "The token travels in the form body (no cookie). The credential is verified, "
            "stored on the session client's connection, and the browser goes to the return URL.",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["token"],
                            "properties": {
                                "token": {"type": "string"},
                                "api_key": {"type": "string"},
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                                "value": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": html_page("Connected (an HTML page)."),
                "302": {
                    **REDIRECT,
                    "description": "To the session's return_url with connection_id and "
                    "status=connected, or status=error&error=<code>.",
                },
                "400": error(
                    "An unknown, used or expired link (a page, JSON when asked), or a missing "
                    "field (the form again).",
                    "invalid_connect_token",
                    "connect_session_used",
                    "connect_session_expired",
                    html=True,
                ),
                "403": error(
                    "The session's client may not act for the user.",
                    "user_not_allowed",
                    html=True,
                ),
                "409": error(
                    "The user's default connection belongs to another owner.",
                    "connection_owned_by_other_client",
                    "connection_conflict",
                    html=True,
                ),
                "413": error("The form is too large.", "payload_too_large", html=True),
                "422": {"description": "The provider refused it: the form again.", "content": HTML},
                "503": {
                    "description": "The form again (an HTML page) while the provider cannot be "
                    "reached; the Error shape with Gateway-Error: 1 when the gateway's database "
                    "cannot be reached. Codes: `provider_unavailable`, `database_unavailable`.",
                    "x-error-codes": ["provider_unavailable", DATABASE_UNAVAILABLE],
                    "content": {**HTML, "application/json": {"schema": ref("Error")}},
                },
            },
        }
    },
}
