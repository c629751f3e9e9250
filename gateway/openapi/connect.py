"""The connect flow: a service opens a session, the user's browser goes to the provider and back."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    ADDITIONAL,
    BODY_ERRORS,
    DATABASE_DOWN,
    DELEGATED_KEY_REFUSED,
    PROVIDER,
    REDIRECT,
    SCOPE,
    TOO_LARGE,
    UNAUTHORIZED,
    USER_ID,
    Schema,
    error,
    html_page,
    json_body,
    ref,
    request_body,
    unavailable,
)

SCHEMAS: dict[str, Schema] = {
    "ConnectSessionRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id"],
        "properties": {
            "user_id": {**USER_ID, "description": "Your id for the user."},
            "provider": PROVIDER,
            "return_url": {
                "type": "string",
                "format": "uri",
                "maxLength": 2048,
                "description": "Where the browser goes afterwards with status, connection_id or "
                "error in the query; one of GATEWAY_ALLOWED_RETURN_URLS. Without it the "
                "gateway shows a page.",
            },
            "login_hint": {"type": "string", "maxLength": 320},
            "scopes": {
                "type": "array",
                "items": SCOPE,
                "maxItems": 50,
                "description": "Default: the provider's configured scopes.",
            },
            "replace_identity": {
                "type": "boolean",
                "default": False,
                "description": "Allow a re-connect to bind a different provider account; "
                "otherwise it is refused with identity_mismatch.",
            },
            **ADDITIONAL,
        },
    },
    "ConnectSession": {
        "type": "object",
        "required": ["id", "connect_url", "expires_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "connect_url": {
                "type": "string",
                "format": "uri",
                "description": "A capability: give it only to the user's browser.",
            },
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
}

FLOW_CODES = ("invalid_connect_token", "connect_session_used", "connect_session_expired")

PATHS: dict[str, Any] = {
    "/v1/connect-sessions": {
        "post": {
            "summary": "Open a connect session for one of your users (scope connect)",
            "requestBody": request_body(ref("ConnectSessionRequest")),
            "responses": {
                "201": json_body(
                    ref("ConnectSession"),
                    "Send the user's browser to connect_url before expires_at.",
                ),
                "400": error(
                    "Bad request.",
                    *BODY_ERRORS,
                    "unknown_provider",
                    "return_url_not_allowed",
                ),
                "413": TOO_LARGE,
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the connect scope, or its user_pattern does not admit the "
                    "user id.",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "user_not_allowed",
                ),
                "409": error(
                    "Another client (or operator) owns the user's connection in this client's "
                    "space (details.owner names it).",
                    "connection_owned_by_other_client",
                ),
                "429": error(
                    "This client's share of the provider's OAuth budget is spent "
                    "(details.share); see Retry-After.",
                    "token_budget_share_exhausted",
                    retry_after=True,
                ),
                "503": DATABASE_DOWN,
            },
        }
    },
    "/connect": {
        "get": {
            "summary": "Browser entry: binds the flow to this browser and redirects to the provider",
            "description": "Sets a cookie for /oauth/callback that proves the callback comes "
            "back to the same browser.",
            "security": [],
            "parameters": [
                {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": html_page(
                    "For a provider that takes stored credentials: the credential form (POST "
                    "/connect/credential)."
                ),
                "302": {
                    **REDIRECT,
                    "description": "To the provider's authorization page; or, when the link "
                    "is not usable and the session has a return_url, to it with "
                    "status=error&error=<code>.",
                },
                "400": error(
                    "Unknown, used or expired link (an HTML page, JSON when asked).",
                    *FLOW_CODES,
                    html=True,
                ),
                "502": error(
                    "A provider configured by its issuer: its discovery document is broken.",
                    "provider_error",
                ),
                "503": unavailable(
                    "A provider configured by its issuer: its discovery document could not be "
                    "fetched.",
                    "provider_unavailable",
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
                "200": html_page("Connected (no return_url): a page."),
                "302": {
                    **REDIRECT,
                    "description": "To the session's return_url with status=connected and "
                    "connection_id, or status=error and error=<code>.",
                },
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
                    html=True,
                ),
                "409": error(
                    "The user signed in as a different provider account than the one already "
                    "connected, and the session did not ask to replace it; or as an account "
                    "already connected for the user (details.connection_id); or an additional "
                    "connection was asked for before the rollout's contract step; nothing was "
                    "stored.",
                    "identity_mismatch",
                    "duplicate_account",
                    "additional_connections_unavailable",
                    html=True,
                ),
                "429": error(
                    "The service's share of the provider's OAuth budget is spent; nothing was "
                    "stored: open the connect link again later.",
                    "token_budget_share_exhausted",
                    html=True,
                ),
                "503": unavailable(
                    "The provider is unavailable or its token-endpoint budget is spent; open the "
                    "connect link again shortly.",
                    "provider_unavailable",
                    html=True,
                ),
            },
        }
    },
}
