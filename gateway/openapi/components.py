"""What every area of the document shares: the one Error schema, error responses, pages, paging.

Every error the gateway makes is the ``Error`` shape with ``Gateway-Error: 1``; each error response
lists its stable codes twice, in the description for people and in ``x-error-codes`` for tools
(the conformance tests check that an answer's code is one of them).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
# A connection's statuses (``models.ConnectionStatus``).
STATUSES = ["active", "needs_reauth", "revoked", "credentials_unreadable"]
# How a connection holds or obtains its credential (``models.AuthMode``).
AUTH_MODES = ["oauth_user", "client_credentials", "api_key", "basic", "header"]

# A user id as the gateway takes it: 1 to 255 characters, no control characters.
USER_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[^\\x00-\\x1f\\x7f]+$",
}
# An OAuth scope token (RFC 6749 §3.3).
SCOPE: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "pattern": "^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$",
}
PROVIDER: Schema = {
    "type": "string",
    "maxLength": 64,
    "description": "Default: the default provider.",
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "Every error the gateway makes; the provider's own answers passed through "
        "by the proxy are not this, and carry no Gateway-Error header.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "pattern": "^[a-z][a-z0-9_]*$",
                        "description": "Stable and machine-readable; each response lists its own.",
                    },
                    "message": {"type": "string", "description": "For people; may change."},
                    "details": {"type": "object", "description": "Present when there is more."},
                },
            }
        },
    },
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


GATEWAY_ERROR: Schema = {
    "required": True,
    "description": "Set on every error the gateway makes itself.",
    "schema": {"type": "string", "const": "1"},
}
RETRY_AFTER: Schema = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}
HTML: Schema = {"text/html": {"schema": {"type": "string"}}}


def error(
    description: str, *codes: str, retry_after: bool = False, html: bool = False
) -> dict[str, Any]:
    """An error response in the one Error shape; ``html``: a browser gets a page unless it asks
    for JSON (``Accept: application/json``)."""
    listed = f" Codes: {', '.join(f'`{c}`' for c in codes)}." if codes else ""
    headers: dict[str, Schema] = {"Gateway-Error": GATEWAY_ERROR}
    if retry_after:
        headers["Retry-After"] = RETRY_AFTER
    content: dict[str, Any] = {"application/json": {"schema": ref("Error")}}
    if html:
        content.update(HTML)
    return {
        "description": description + listed,
        "x-error-codes": list(codes),
        "headers": headers,
        "content": content,
    }


def json_body(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def request_body(schema: Schema) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def query_parameter(name: str, schema: Schema, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, **extra}


def uuid_path(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }


DATABASE_UNAVAILABLE = "database_unavailable"


def unavailable(description: str, *codes: str, html: bool = False) -> dict[str, Any]:
    """A 503 for ``codes``, or because the gateway's database cannot be reached (any route that
    reads it may answer so)."""
    return error(
        f"{description} Or the gateway's database cannot be reached; retry after Retry-After.",
        *codes,
        DATABASE_UNAVAILABLE,
        retry_after=True,
        html=html,
    )


DATABASE_DOWN = error(
    "The gateway's database cannot be reached; retry after Retry-After.",
    DATABASE_UNAVAILABLE,
    retry_after=True,
)
UNAUTHORIZED = error("Missing or wrong service key (WWW-Authenticate: Bearer).", "unauthorized")
# Every operation but the proxy's refuses a delegated key (it may only proxy for its connection).
DELEGATED_KEY_REFUSED = "delegated_key_not_allowed"
FORBIDDEN = error(
    "The key lacks the scope, or is a delegated key.", "insufficient_scope", DELEGATED_KEY_REFUSED
)
# What a JSON body can be refused for before its fields are looked at.
BODY_ERRORS = ("invalid_json", "validation_error")
# A body past the endpoint's cap (GATEWAY_MAX_BODY_BYTES, or the endpoint's own smaller one).
TOO_LARGE = error("The body is larger than the endpoint takes.", "payload_too_large")


def html_page(description: str) -> dict[str, Any]:
    return {"description": description, "content": HTML}


REDIRECT: dict[str, Any] = {
    "description": "Redirect.",
    "headers": {"Location": {"required": True, "schema": {"type": "string", "format": "uri"}}},
}

PAGE_PARAMETERS = [
    query_parameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
        description="Items per page.",
    ),
    query_parameter(
        "cursor",
        {"type": "string"},
        description="The next_cursor of the previous page; anything else is invalid_cursor.",
    ),
]
PAGE_ERRORS = ("unknown_parameter", "invalid_limit", "invalid_cursor")


def page_of(item: str) -> Schema:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": ref(item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as cursor for the next page; null on the last page.",
            },
        },
    }


# Request fields of every flow that stores a grant (connect session, provisioning, import).
ADDITIONAL: dict[str, Schema] = {
    "additional": {
        "type": "boolean",
        "default": False,
        "description": "Create another connection for the user and provider beside the default "
        "one (which stays the default), instead of re-connecting the default.",
    },
    "allow_duplicate_account": {
        "type": "boolean",
        "default": False,
        "description": "Allow a provider account the user already has connected in this space; "
        "otherwise it is refused with duplicate_account.",
    },
}
