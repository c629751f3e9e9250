"""The token-injecting proxy: a service calls the provider's API as one of its users, through the
user's default connection or a connection addressed by id."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    DELEGATED_KEY_REFUSED,
    UNAUTHORIZED,
    Schema,
    error,
    unavailable,
)

SCHEMAS: dict[str, Schema] = {}

METHODS = ("get", "head", "post", "put", "patch", "delete", "options")

DESCRIPTION = (
    "The path below the user id or connection id goes to the provider's API base, normalised; the "
    "query string "
    "unchanged. Bodies stream both ways. Forwarded request headers: Accept, Accept-Encoding, "
    "Accept-Language, Content-Type, Content-Encoding, Content-Language, Idempotency-Key, "
    "X-Client-Timezone, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, "
    "If-Range, Range, Prefer; the gateway sets Authorization (the user's token; or the header "
    "or query parameter the provider's auth_header names, a caller's of that name dropped) and "
    "X-Request-Id. GET, HEAD, OPTIONS, PUT, DELETE and requests with an Idempotency-Key are "
    "retried on connection failures, 502, 503 and 504; redirects are returned, not followed. "
    "The provider's answers, errors included, come back as they are and without a "
    "Gateway-Error header (the default response, whatever the status); the statuses "
    "listed are the gateway's own errors, which carry Gateway-Error: 1."
)
USER_ID: dict[str, Any] = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "description": "Your id for the user, percent-encoded.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
CONNECTION_ID: dict[str, Any] = {
    "name": "connection_id",
    "in": "path",
    "required": True,
    "description": "The connection's id.",
    "schema": {"type": "string", "format": "uuid"},
}
GATEWAY_PROVIDER: dict[str, Any] = {
    "name": "Gateway-Provider",
    "in": "header",
    "required": False,
    "description": "Which of the user's connections; default: the default provider.",
    "schema": {"type": "string"},
}
COMMON_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "The path at the provider's API base: printable ASCII, "
        "percent-encoded, no dot segments, empty segments or encoded slashes.",
        "schema": {"type": "string"},
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Forwarded; makes an unsafe method retryable.",
        "schema": {"type": "string"},
    },
    {"name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string"}},
]


def responses(not_found: str) -> dict[str, Any]:
    return {
        "default": {"description": "The provider's answer, passed through."},
        "400": error(
            "Bad path, provider or Content-Length.",
            "invalid_path",
            "unknown_provider",
            "invalid_request",
        ),
        "401": UNAUTHORIZED,
        "403": error(
            "The key lacks the scope, no allow rule matches, the user is outside the client's "
            "namespace, or a delegated key is used outside its connection (refusals are "
            "audited).",
            "insufficient_scope",
            DELEGATED_KEY_REFUSED,
            "proxy_forbidden",
        ),
        "404": error(not_found, "connection_not_found"),
        "422": error(
            "The connection's settings make an API base URL the provider's allowed_hosts do not "
            "admit.",
            "setting_not_allowed",
        ),
        "409": error(
            "The user must connect again (the provider rejected the grant, or the stored tokens "
            "do not open with the gateway's keys), or the connection is paused.",
            "reauth_required",
            "credentials_unreadable",
            "connection_disabled",
        ),
        "410": error("The connection was revoked.", "connection_revoked"),
        "429": error(
            "The client's rate limit (per replica) is spent, or the token needed refreshing and "
            "the client's share of the OAuth budget is spent (details.share); see Retry-After.",
            "rate_limited",
            "token_budget_share_exhausted",
            retry_after=True,
        ),
        "502": error(
            "The provider could not be reached or broke off, or refused the refresh the token "
            "needed.",
            "upstream_unreachable",
            "provider_error",
            "provider_client_rejected",
        ),
        "503": unavailable(
            "The token needed refreshing and the provider is unavailable; see Retry-After.",
            "provider_unavailable",
            "token_budget_exhausted",
        ),
        "504": error("The provider did not answer in time.", "upstream_timeout"),
    }


BY_USER: dict[str, Any] = {
    "summary": "Call the provider's API as the user, through their default connection (scope "
    "proxy and a matching allow rule)",
    "description": DESCRIPTION,
    "parameters": [USER_ID, *COMMON_PARAMETERS, GATEWAY_PROVIDER],
    "responses": responses("The user has no (default) connection in the caller's space."),
}
BY_CONNECTION: dict[str, Any] = {
    "summary": "Call the provider's API through one connection, by its id (scope proxy and a "
    "matching allow rule)",
    "description": DESCRIPTION + " The connection decides the provider. A delegated key issued for "
    "this connection is accepted here, and only here; each of its calls is audited.",
    "parameters": [CONNECTION_ID, *COMMON_PARAMETERS],
    "responses": responses(
        "No such connection, or not one the caller may use (another space's, or a user outside "
        "the client's user_pattern: that refusal is audited)."
    ),
}

SDK = (
    " Contio's SDK (@contio/partner-sdk) as it is: give it this base URL without the path and "
    "your service key as its access token; it appends /v1/partner/user/..., which must follow "
    "the id (else 400 invalid_path). The allow rules see the path below /v1/partner/user, as on "
    "/proxy/...; Contio's connections only."
)
SDK_PATH: dict[str, Any] = {
    **COMMON_PARAMETERS[0],
    "description": "v1/partner/user/ and the path at Contio's user API, as the SDK sends it.",
}
BY_SDK_USER: dict[str, Any] = {
    **BY_USER,
    "summary": "Contio's SDK, as the user, through their default Contio connection",
    "description": DESCRIPTION + SDK,
    "parameters": [USER_ID, SDK_PATH, *COMMON_PARAMETERS[1:]],
}
BY_SDK_CONNECTION: dict[str, Any] = {
    **BY_CONNECTION,
    "summary": "Contio's SDK, through one Contio connection, by its id",
    "description": BY_CONNECTION["description"] + SDK,
    "parameters": [CONNECTION_ID, SDK_PATH, *COMMON_PARAMETERS[1:]],
}

PATHS: dict[str, Any] = {
    "/proxy/users/{user_id}/{path}": dict.fromkeys(METHODS, BY_USER),
    "/proxy/connections/{connection_id}/{path}": dict.fromkeys(METHODS, BY_CONNECTION),
    "/sdk/contio/users/{user_id}/{path}": dict.fromkeys(METHODS, BY_SDK_USER),
    "/sdk/contio/connections/{connection_id}/{path}": dict.fromkeys(METHODS, BY_SDK_CONNECTION),
}
