"""The encryption keys through the admin API (role security): what each key seals, and re-sealing
under the active key, a confirmed, bounded step at a time."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    BODY_ERRORS,
    DATABASE_DOWN,
    FORBIDDEN,
    TOO_LARGE,
    UNAUTHORIZED,
    Schema,
    error,
    json_body,
    ref,
    request_body,
)

SCHEMAS: dict[str, Schema] = {
    "KeyStatus": {
        "type": "object",
        "required": ["active_key", "values_by_key", "keys_not_in_ring", "to_reseal"],
        "properties": {
            "active_key": {"type": "string"},
            "values_by_key": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Key id -> how many stored values it seals.",
            },
            "keys_not_in_ring": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Keys that seal values but are not in the key ring: those values "
                "cannot be opened.",
            },
            "to_reseal": {
                "type": "integer",
                "description": "Values sealed under another key than the active one: the "
                "rotation's confirm.",
            },
        },
    },
    "KeyRotation": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "confirm": {
                "type": "integer",
                "minimum": 0,
                "description": "to_reseal, as GET /v1/keys (or the 428's details.affected) "
                "gives it now.",
            },
        },
    },
    "KeyRotationStep": {
        "type": "object",
        "required": [
            "resealed_values",
            "resealed_rows",
            "complete",
            "unreadable_rows",
            "status",
        ],
        "properties": {
            "resealed_values": {"type": "integer"},
            "resealed_rows": {"type": "integer"},
            "complete": {
                "type": "boolean",
                "description": "The step reached every table's end; false: send another, "
                "confirmed with the new to_reseal.",
            },
            "unreadable_rows": {
                "type": "integer",
                "description": "Rows holding a value that does not open with the key ring, left "
                "as they are.",
            },
            "status": ref("KeyStatus"),
        },
    },
}

_COMMON = {"401": UNAUTHORIZED, "403": FORBIDDEN, "503": DATABASE_DOWN}

PATHS: dict[str, Any] = {
    "/v1/keys": {
        "get": {
            "summary": "How many stored values each encryption key seals",
            "responses": {"200": json_body(ref("KeyStatus"), "The keys' use now."), **_COMMON},
        },
    },
    "/v1/keys/rotation": {
        "post": {
            "summary": "Re-seal stored values under the active key, a bounded step, confirmed",
            "description": "Each step re-seals up to about 2000 rows and is audited as "
            "keys.rotated; repeat until complete. Safe to interrupt, and beside "
            "`gateway keys rotate`.",
            "requestBody": request_body(ref("KeyRotation")),
            "responses": {
                "200": json_body(ref("KeyRotationStep"), "What the step did and what is left."),
                "400": error("A malformed body.", *BODY_ERRORS),
                "413": TOO_LARGE,
                "428": error(
                    "confirm is missing or is not to_reseal (details.affected); nothing was "
                    "re-sealed.",
                    "confirmation_required",
                ),
                **_COMMON,
            },
        },
    },
}
