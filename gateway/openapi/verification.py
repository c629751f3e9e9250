"""The connections area's verify operation: asking the provider whether it still takes a
connection's credential. ``connections`` puts it in place."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    AUTH_MODES,
    UNAUTHORIZED,
    Schema,
    error,
    json_body,
    ref,
    uuid_path,
)
from gateway.openapi.connection_updates import FORBIDDEN, NOT_FOUND, TOKEN_ENDPOINT_FAILURES

SCHEMAS: dict[str, Schema] = {
    "ConnectionVerification": {
        "type": "object",
        "required": ["verified", "connection_id", "auth_mode", "method"],
        "properties": {
            "verified": {"const": True},
            "connection_id": {"type": "string", "format": "uuid"},
            "auth_mode": {"enum": AUTH_MODES},
            "method": {
                "enum": ["verification_request", "client_credentials_exchange", "refresh"],
                "description": "How it was checked: the provider profile's verification request "
                "(a stored credential, left as it is), a new client-credentials exchange, or a "
                "refresh of the user's grant (both keep the new token).",
            },
        },
    },
}

PATHS: dict[str, Any] = {
    "/v1/connections/{connection_id}/verify": {
        "post": {
            "summary": "Ask the provider now whether it takes the connection's credential (scope "
            "admin, or connect for the connections the client may see)",
            "description": "A stored credential is sent with the provider profile's verification "
            "request and stays as it is; a client-credentials connection is exchanged again and a "
            "user's grant refreshed, as POST /v1/connections/{connection_id}/token does, within "
            "the OAuth budget. Audited as connection.verified with its outcome.",
            "parameters": [uuid_path("connection_id")],
            "responses": {
                "200": json_body(ref("ConnectionVerification"), "The provider took it."),
                "400": error(
                    "The connection's provider is no longer configured.",
                    "unknown_provider",
                    "provider_not_configured",
                ),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "409": error(
                    "Nothing was asked: the user must connect again, the stored credential or "
                    "tokens do not open with the key ring, or the provider's profile has no "
                    "verification request.",
                    "reauth_required",
                    "credentials_unreadable",
                    "nothing_to_verify",
                ),
                "410": error("The connection was revoked.", "connection_revoked"),
                "422": error(
                    "The provider refused the credential (details.reason, and "
                    "details.upstream_status when it answered with one); a refused user's grant "
                    "is now needs_reauth.",
                    "credential_rejected",
                ),
                **TOKEN_ENDPOINT_FAILURES,
            },
        }
    }
}
