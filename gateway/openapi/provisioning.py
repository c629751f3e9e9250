"""Partner-auth provisioning: the provider creates the user and mails a code; the gateway connects
them once the code is typed, through the API or on the gateway's own verify page."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    ADDITIONAL,
    BODY_ERRORS,
    DATABASE_DOWN,
    DATABASE_UNAVAILABLE,
    DELEGATED_KEY_REFUSED,
    FORBIDDEN,
    HTML,
    PROVIDER,
    RETRY_AFTER,
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
    uuid_path,
)

SCHEMAS: dict[str, Schema] = {
    "ProvisioningRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "email"],
        "properties": {
            "user_id": USER_ID,
            "email": {
                "type": "string",
                "format": "email",
                "minLength": 3,
                "maxLength": 320,
                "description": "Checked loosely (local@domain.tld, no spaces): the provider "
                "is the judge of what it can mail.",
            },
            "name": {"type": "string", "maxLength": 255, "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
            "workspace_id": {
                "type": "string",
                "format": "uuid",
                "description": "Join this shared workspace; without it the user gets a personal one.",
            },
            "is_admin": {
                "type": "boolean",
                "description": "WORKSPACE_ADMIN instead of WORKSPACE_MEMBER (with workspace_id).",
            },
            "provider": PROVIDER,
            "replace_identity": {"type": "boolean", "default": False},
            **ADDITIONAL,
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
    "VerifyRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["code"],
        "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 32}},
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
        "required": [
            "id",
            "user_id",
            "provider",
            "status",
            "user_provisioned",
            "expires_at",
            "connection_id",
            "error",
            "created_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "user_id": {"type": "string"},
            "provider": {"type": "string"},
            "status": {"enum": ["code_sent", "verified", "connected", "failed"]},
            "user_provisioned": {"type": "boolean"},
            "expires_at": {
                "type": "string",
                "format": "date-time",
                "description": "The code's; once verified, the signed-in session's.",
            },
            "connection_id": {"type": ["string", "null"], "format": "uuid"},
            "error": {
                "type": ["string", "null"],
                "description": "Why it failed: provisioning_failed, code_expired, "
                "session_expired, identity_mismatch, duplicate_account or "
                "additional_connections_unavailable.",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}

PROVISIONING_ID = uuid_path("provisioning_id")
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body gets the first answer (kept 24 h): "
    "1 to 255 printable ASCII characters.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[ -~]*[!-~][ -~]*$",
    },
}
NOT_FOUND = error("No provisioning has this id for this client.", "provisioning_not_found")
CONFLICT = error(
    "Closed after too many wrong codes (start again); the user signed in as another account "
    "than the one connected, or as an account already connected for the user; another client "
    "(or operator) owns the user's connection; an additional connection was asked for before the "
    "rollout's contract step; or another verify is running (Retry-After).",
    "provisioning_failed",
    "identity_mismatch",
    "duplicate_account",
    "additional_connections_unavailable",
    "connection_owned_by_other_client",
    "provisioning_in_progress",
    retry_after=True,
)
GONE = error(
    "The code (3 min) or the signed-in session (30 min) expired: start again.",
    "code_expired",
    "session_expired",
)
SHARE_SPENT = error(
    "This client's share of the provider's OAuth budget is spent (details.share); see Retry-After.",
    "token_budget_share_exhausted",
    retry_after=True,
)
UNAVAILABLE = unavailable(
    "The provider is unavailable or the OAuth budget is spent; retry after Retry-After.",
    "provider_unavailable",
    "token_budget_exhausted",
)


PATHS: dict[str, Any] = {
    "/v1/provisioning": {
        "post": {
            "summary": "Provision a user by partner-auth: the provider emails them a code "
            "(scope connect)",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": request_body(ref("ProvisioningRequest")),
            "responses": {
                "201": {
                    **json_body(
                        ref("ProvisioningStarted"),
                        "The code was sent. A replay of an Idempotency-Key carries "
                        "Idempotent-Replayed: true (and replays a 4xx answer too).",
                    ),
                    "headers": {"Idempotent-Replayed": {"schema": {"const": "true"}}},
                },
                "400": error(
                    "Bad request, or the provider found a field bad.",
                    *BODY_ERRORS,
                    "unknown_provider",
                    "provisioning_unsupported",
                    "invalid_idempotency_key",
                    "provider_refused_request",
                ),
                "413": TOO_LARGE,
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the connect scope, its user_pattern does not admit the user "
                    "id, or the workspace belongs to another partner app.",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "user_not_allowed",
                    "workspace_not_authorized",
                ),
                "404": error("The provider has no such workspace.", "workspace_not_found"),
                "409": error(
                    "The user already belongs to another workspace (details.workspace_id), "
                    "another client (or operator) owns the user's connection (details.owner), or "
                    "the first request with this Idempotency-Key is still running (Retry-After).",
                    "workspace_conflict",
                    "connection_owned_by_other_client",
                    "idempotency_in_flight",
                    retry_after=True,
                ),
                "422": error(
                    "The Idempotency-Key was used with another body.", "idempotency_key_reused"
                ),
                "429": SHARE_SPENT,
                "502": error(
                    "The provider refused the gateway's client or failed.",
                    "provider_error",
                    "provider_client_rejected",
                ),
                "503": UNAVAILABLE,
            },
        }
    },
    "/v1/provisioning/{provisioning_id}": {
        "get": {
            "summary": "Where a provisioning stands (scope connect; only the client that "
            "started it)",
            "parameters": [PROVISIONING_ID],
            "responses": {
                "200": json_body(ref("Provisioning"), "The state."),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "503": DATABASE_DOWN,
            },
        }
    },
    "/v1/provisioning/{provisioning_id}/verify": {
        "post": {
            "summary": "Submit the user's code: the gateway verifies it, consents, exchanges "
            "the code and stores the connection (scope connect; only the client that started "
            "it)",
            "parameters": [PROVISIONING_ID],
            "requestBody": request_body(ref("VerifyRequest")),
            "responses": {
                "200": json_body(
                    ref("ProvisioningConnected"),
                    "Connected; every later verify answers the same.",
                ),
                "400": error(
                    "Wrong code (details.attempts_remaining), or a bad body.",
                    "invalid_code",
                    *BODY_ERRORS,
                ),
                "413": TOO_LARGE,
                "401": UNAUTHORIZED,
                "403": error(
                    "The key lacks the connect scope, or its user_pattern no longer admits the "
                    "user id.",
                    "insufficient_scope",
                    DELEGATED_KEY_REFUSED,
                    "user_not_allowed",
                ),
                "404": NOT_FOUND,
                "409": CONFLICT,
                "410": GONE,
                "429": SHARE_SPENT,
                "502": error(
                    "The provider failed the flow.",
                    "provider_error",
                    "provider_client_rejected",
                    "grant_rejected",
                ),
                "503": UNAVAILABLE,
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
                "200": html_page("The form, or the connected page."),
                "404": html_page("provisioning_not_found (an HTML page)."),
                "409": html_page("provisioning_failed, identity_mismatch (an HTML page)."),
                "410": html_page("code_expired, session_expired (an HTML page)."),
                "503": DATABASE_DOWN,
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
                "200": html_page("Connected (an HTML page)."),
                "400": html_page("invalid_code, or no code: the form again, with a message."),
                "404": html_page("provisioning_not_found."),
                "409": html_page(
                    "provisioning_failed, identity_mismatch, or provisioning_in_progress "
                    "(the form again)."
                ),
                "410": html_page("code_expired, session_expired."),
                "429": html_page(
                    "token_budget_share_exhausted: the form again, while the client's share of "
                    "the OAuth budget is spent (Retry-After)."
                ),
                "502": html_page("provider_error, grant_rejected: the provider failed the flow."),
                "503": {
                    "description": "The form again (an HTML page) while the provider is "
                    "unavailable; the Error shape with Gateway-Error: 1 when the gateway's "
                    "database cannot be reached. Codes: `provider_unavailable`, "
                    "`token_budget_exhausted`, `database_unavailable`.",
                    "x-error-codes": [
                        "provider_unavailable",
                        "token_budget_exhausted",
                        DATABASE_UNAVAILABLE,
                    ],
                    "headers": {"Retry-After": RETRY_AFTER},
                    "content": {**HTML, "application/json": {"schema": ref("Error")}},
                },
            },
        },
    },
}
