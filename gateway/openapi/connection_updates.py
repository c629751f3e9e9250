"""The parts of the connections area about what a connection's owner sets: the metadata, external
ids and labels as a connection shows them, the list's filters on them, updating a connection
(PATCH, with its ETag) and obtaining a fresh token. ``connections`` puts them in place."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    BODY_ERRORS,
    DATABASE_DOWN,
    DELEGATED_KEY_REFUSED,
    TOO_LARGE,
    UNAUTHORIZED,
    Schema,
    error,
    query_parameter,
    ref,
    unavailable,
    uuid_path,
)

# Kubernetes' label syntax (gateway.connections.labels); a prefix's length (253) is checked too.
LABEL_NAME = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = f"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{LABEL_NAME}$"
LABEL_VALUE: Schema = {"type": "string", "maxLength": 63, "pattern": f"^({LABEL_NAME})?$"}
EXTERNAL_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}
ETAG: Schema = {
    "required": True,
    "description": 'The connection\'s strong ETag ("<revision>"): send it as If-Match to update '
    "only the version you read.",
    "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
}

SCHEMAS: dict[str, Schema] = {
    "Labels": {
        "type": "object",
        "description": "key=value pairs for selecting connections (?label=team=sales). Keys: an "
        "optional DNS-subdomain prefix and '/', then a name of 1 to 63 letters, digits, '-', '_' "
        "or '.', beginning and ending with a letter or digit; values: empty or like a name. At "
        "most 32.",
        "maxProperties": 32,
        "propertyNames": {"pattern": LABEL_KEY},
        "additionalProperties": LABEL_VALUE,
    },
    "ExternalIds": {
        "type": "array",
        "description": "The owner's own references for the connection (ASCII, no spaces), unique "
        "per owner and provider; sorted.",
        "maxItems": 5,
        "uniqueItems": True,
        "items": EXTERNAL_ID,
    },
    "Metadata": {
        "type": "object",
        "description": "The owner's own JSON object, at most 16 KiB as compact JSON; kept and "
        "returned as given, never used by the gateway.",
    },
    "ConnectionPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "A JSON Merge Patch (RFC 7396): an absent field stays as it is. metadata "
        "and labels are merged into the stored ones (a null member removes a key); external_ids "
        "replaces the set; null for metadata, labels or external_ids clears them.",
        "properties": {
            "enabled": {
                "type": "boolean",
                "description": "false pauses the connection (the proxy answers 409 "
                "connection_disabled; it is still refreshed), true resumes it.",
            },
            "metadata": {"type": ["object", "null"]},
            "external_ids": {
                "type": ["array", "null"],
                "maxItems": 5,
                "uniqueItems": True,
                "items": EXTERNAL_ID,
            },
            "labels": {
                "type": ["object", "null"],
                "propertyNames": {"pattern": LABEL_KEY},
                "additionalProperties": {"anyOf": [LABEL_VALUE, {"type": "null"}]},
            },
            "is_default": {
                "type": "boolean",
                "description": "true makes it the default connection of its user, provider and "
                "space.",
            },
            "settings": {
                "type": ["object", "null"],
                "description": "An operator's alone: merged into the connection's settings (a "
                "null member removes one, null clears them). They must make an API base URL the "
                "provider's allowed_hosts admit.",
                "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,63}$"},
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "minLength": 1, "maxLength": 2048},
                        {"type": "null"},
                    ]
                },
            },
        },
    },
}

CONNECTION_FIELDS: dict[str, Schema] = {
    "enabled": {
        "type": "boolean",
        "description": "false: paused; the proxy refuses it, the refresher keeps it fresh.",
    },
    "metadata": ref("Metadata"),
    "external_ids": ref("ExternalIds"),
    "labels": ref("Labels"),
}

LIST_PARAMETERS = [
    query_parameter(
        "external_id",
        {"type": "string", "minLength": 1, "maxLength": 255},
        description="Only connections with this external id.",
    ),
    query_parameter(
        "label",
        {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        description="key=value (that value) or key (any value); repeat it: all must match.",
        style="form",
        explode=True,
    ),
    query_parameter("enabled", {"enum": ["true", "false"]}, description="Paused (false) or not."),
]
LIST_ERRORS = ("invalid_external_id", "invalid_label", "invalid_enabled")

SCOPES = "scope admin, or connect for the connections the client may see"
FORBIDDEN = error(
    "The key has neither the admin nor the connect scope.",
    "insufficient_scope",
    DELEGATED_KEY_REFUSED,
)
NOT_OWNER = error(
    "The key lacks the admin or connect scope, or the client sees the connection but does not "
    "own it.",
    "insufficient_scope",
    DELEGATED_KEY_REFUSED,
    "not_connection_owner",
)
NOT_OWNER_OR_SETTINGS = error(
    "The key lacks the admin or connect scope, or the client sees the connection but does not "
    "own it, or a client (not an operator) sent settings.",
    "insufficient_scope",
    DELEGATED_KEY_REFUSED,
    "not_connection_owner",
    "settings_operator_only",
)
NOT_FOUND = error(
    "No connection has this id, or the client may not see it.", "connection_not_found"
)


def with_etag(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"ETag": ETAG},
        "content": {"application/json": {"schema": ref("Connection")}},
    }


SHOW: dict[str, Any] = {
    "summary": f"Show a connection ({SCOPES})",
    "parameters": [uuid_path("connection_id")],
    "responses": {
        "200": with_etag("The connection."),
        "401": UNAUTHORIZED,
        "403": FORBIDDEN,
        "404": NOT_FOUND,
        "503": DATABASE_DOWN,
    },
}

UPDATE: dict[str, Any] = {
    "summary": "Update a connection (its owner with scope connect, or scope admin)",
    "description": "A JSON Merge Patch, sent as application/merge-patch+json or application/json. "
    "With If-Match, only if the connection is still at that ETag (* matches any); without, "
    "unconditionally. A patch that changes something grows the ETag and is audited "
    "(connection.updated; connection.paused or connection.resumed); one that changes nothing "
    "writes nothing.",
    "parameters": [
        uuid_path("connection_id"),
        {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": 'An ETag from GET or an earlier PATCH ("3"), or *.',
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            media_type: {"schema": ref("ConnectionPatch")}
            for media_type in ("application/merge-patch+json", "application/json")
        },
    },
    "responses": {
        "200": with_etag("The connection as it is now."),
        "400": error(
            "Bad body; or the change would leave more than 32 labels or more than 16 KiB of "
            "metadata; or is_default cannot be changed.",
            *BODY_ERRORS,
            "too_many_labels",
            "metadata_too_large",
            "invalid_request",
        ),
        "401": UNAUTHORIZED,
        "403": NOT_OWNER_OR_SETTINGS,
        "404": NOT_FOUND,
        "409": error(
            "Another connection of the same owner and provider has one of the external ids "
            "(details.external_id, details.connection_id); or is_default true on an app-level "
            "(client_credentials) connection, which is never a user's default.",
            "external_id_taken",
            "default_not_allowed",
        ),
        "422": error(
            "The settings would make an API base URL the provider's allowed_hosts do not admit "
            "(nothing is changed).",
            "setting_not_allowed",
        ),
        "412": error(
            "The connection is no longer at the If-Match ETag (details.etag is the current one).",
            "precondition_failed",
        ),
        "413": TOO_LARGE,
        "415": error(
            "The body is neither application/merge-patch+json nor application/json.",
            "unsupported_media_type",
        ),
        "503": DATABASE_DOWN,
    },
}


# What a request to the provider's token endpoint can end in.
TOKEN_ENDPOINT_FAILURES: dict[str, Any] = {
    "502": error(
        "The provider refused the gateway's client or failed.",
        "provider_client_rejected",
        "provider_error",
    ),
    "503": unavailable(
        "The provider could not be reached, or the OAuth budget is spent.",
        "provider_unavailable",
        "token_budget_exhausted",
    ),
}


def refresh_responses(forbidden: dict[str, Any], not_found: dict[str, Any]) -> dict[str, Any]:
    """What refreshing a connection now can answer (``/refresh`` and ``/token``)."""
    return {
        "200": with_etag("The connection after the refresh."),
        "401": UNAUTHORIZED,
        "403": forbidden,
        "404": not_found,
        "409": error(
            "The provider rejected the grant, or the stored tokens do not open with the key "
            "ring (the user must connect again); or the connection holds a stored credential, "
            "which has nothing to refresh.",
            "reauth_required",
            "credentials_unreadable",
            "nothing_to_refresh",
        ),
        "410": error("The connection was revoked.", "connection_revoked"),
        **TOKEN_ENDPOINT_FAILURES,
    }


PATHS: dict[str, Any] = {
    "/v1/connections/{connection_id}/token": {
        "post": {
            "summary": "Obtain a fresh access token now (its owner with scope connect, or scope "
            "admin)",
            "description": "The gateway refreshes the stored grant now and stores the new tokens "
            "(within the OAuth budget: the calling client's share, or the operator's). The "
            "answer is the connection's state, never a token.",
            "parameters": [uuid_path("connection_id")],
            "responses": refresh_responses(NOT_OWNER, NOT_FOUND),
        }
    }
}
