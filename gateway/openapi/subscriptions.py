"""Subscriptions: a service client's endpoints for outbound events (scope connect for its own,
admin for anyone's), their signing secrets, delivery log, replay and ping."""

from __future__ import annotations

from typing import Any

from gateway.openapi.components import (
    BODY_ERRORS,
    DATABASE_DOWN,
    DELEGATED_KEY_REFUSED,
    PAGE_ERRORS,
    PAGE_PARAMETERS,
    TOO_LARGE,
    UNAUTHORIZED,
    Schema,
    error,
    json_body,
    page_of,
    query_parameter,
    ref,
    request_body,
    uuid_path,
)

TIME: Schema = {"type": "string", "format": "date-time"}
MAYBE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
URL: Schema = {
    "type": "string",
    "maxLength": 2048,
    "description": "https to a public address (docs/events.md: subscription URLs); checked "
    "again, resolved, at each delivery.",
}
EVENT_TYPES: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": 50,
    "items": {"type": "string", "maxLength": 64},
    "description": "Exact types (connection.revoked), prefixes ending .* (provider.contio.*), "
    "or *.",
}
LABEL_SELECTOR: Schema = {
    "type": "array",
    "maxItems": 10,
    "items": {"type": "string"},
    "description": "key=value or key terms, all of which the connection's labels must hold.",
}
SECRET: Schema = {
    "type": "string",
    "pattern": "^whsec_",
    "description": "The new signing secret (Standard Webhooks), shown only in this answer.",
}

SCHEMAS: dict[str, Schema] = {
    "SubscriptionRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "event_types"],
        "properties": {
            "url": URL,
            "event_types": EVENT_TYPES,
            "label_selector": LABEL_SELECTOR,
            "enabled": {"type": "boolean", "default": True},
            "client_id": {
                "type": ["string", "null"],
                "format": "uuid",
                "description": "An operator's: the client to subscribe for (default: the caller).",
            },
        },
    },
    "SubscriptionPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": {**URL, "type": ["string", "null"]},
            "event_types": {**EVENT_TYPES, "type": ["array", "null"]},
            "label_selector": {**LABEL_SELECTOR, "type": ["array", "null"]},
            "enabled": {"type": ["boolean", "null"]},
        },
    },
    "SecretRotation": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "overlap_seconds": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": 30 * 24 * 3600,
                "description": "How long the current secrets keep signing (default: "
                "GATEWAY_SUBSCRIPTION_SECRET_OVERLAP_SECONDS).",
            }
        },
    },
    "Subscription": {
        "type": "object",
        "required": [
            "id",
            "client_id",
            "url",
            "event_types",
            "label_selector",
            "enabled",
            "created_at",
            "updated_at",
            "secrets",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "client_id": {"type": "string", "format": "uuid"},
            "url": {"type": "string"},
            "event_types": {"type": "array", "items": {"type": "string"}},
            "label_selector": {"type": "array", "items": {"type": "string"}},
            "enabled": {"type": "boolean"},
            "created_at": TIME,
            "updated_at": TIME,
            "secrets": {
                "type": "array",
                "description": "When each signing secret stops signing (null: at the next "
                "rotation), newest first; never a secret. Empty in lists.",
                "items": {
                    "type": "object",
                    "required": ["expires_at"],
                    "properties": {"expires_at": MAYBE_TIME},
                },
            },
        },
    },
    "SubscriptionWithSecret": {
        "allOf": [
            ref("Subscription"),
            {"type": "object", "required": ["secret"], "properties": {"secret": SECRET}},
        ]
    },
    "SubscriptionPage": page_of("Subscription"),
    "SubscriptionDelivery": {
        "type": "object",
        "required": [
            "id",
            "event_id",
            "event_type",
            "occurred_at",
            "state",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "abandoned_at",
            "last_error",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "event_id": {"type": "string", "format": "uuid", "description": "The webhook-id."},
            "event_type": {"type": "string"},
            "occurred_at": TIME,
            "state": {"type": "string", "enum": ["pending", "delivered", "abandoned"]},
            "attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": MAYBE_TIME,
            "delivered_at": MAYBE_TIME,
            "abandoned_at": MAYBE_TIME,
            "last_error": {"type": ["string", "null"]},
        },
    },
    "SubscriptionDeliveries": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("SubscriptionDelivery")}},
    },
    "PingResult": {
        "type": "object",
        "required": ["delivery_id", "event_id", "delivered", "error"],
        "properties": {
            "delivery_id": {"type": "string", "format": "uuid"},
            "event_id": {"type": "string", "format": "uuid"},
            "delivered": {"type": "boolean"},
            "error": {
                "type": ["string", "null"],
                "description": "Why it was not delivered: HTTP <status> (a redirect too: never "
                "followed), refused: <reason>, or the kind of network error.",
            },
        },
    },
    "Replayed": {
        "type": "object",
        "required": ["replayed", "delivery_id"],
        "properties": {
            "replayed": {"type": "integer"},
            "delivery_id": {"type": "string", "format": "uuid"},
        },
    },
}

SUBSCRIPTION_ID = uuid_path("subscription_id")
FORBIDDEN = error(
    "The key lacks the connect or admin scope, or is a delegated key.",
    "insufficient_scope",
    DELEGATED_KEY_REFUSED,
)
NOT_FOUND = error(
    "No subscription has this id that the caller may see (another client's included).",
    "subscription_not_found",
)
REFUSED = error(
    "The URL is refused (details.reason: url_invalid, url_scheme_not_allowed, "
    "address_not_allowed, host_unresolvable), or the event types or label selector are malformed.",
    "subscription_url_not_allowed",
    "invalid_event_types",
    "invalid_label_selector",
)


def _answers(ok: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    return {**ok, "401": UNAUTHORIZED, "403": FORBIDDEN, "503": DATABASE_DOWN, **more}


PATHS: dict[str, Any] = {
    "/v1/subscriptions": {
        "post": {
            "summary": "Subscribe to outbound events (for the caller, or an operator's client)",
            "description": "Events go to the URL when their type matches, they are about a "
            "connection the client may use under the ownership rule, and its labels hold the "
            "selector. The first signing secret is in this answer only.",
            "requestBody": request_body(ref("SubscriptionRequest")),
            "responses": _answers(
                {"201": json_body(ref("SubscriptionWithSecret"), "Created; the secret once.")},
                **{
                    "400": error("A bad body.", *BODY_ERRORS),
                    "403": error(
                        "The key lacks the scope or is a delegated key, or a client that is "
                        "not an operator named another client.",
                        "insufficient_scope",
                        DELEGATED_KEY_REFUSED,
                        "operator_only",
                    ),
                    "404": error("No service client has client_id.", "client_not_found"),
                    "413": TOO_LARGE,
                    "422": REFUSED,
                },
            ),
        },
        "get": {
            "summary": "List subscriptions, newest first (the caller's; an operator's: all)",
            "parameters": [
                query_parameter(
                    "client_id",
                    {"type": "string", "format": "uuid"},
                    description="Only this client's (another client's: none, unless an operator).",
                ),
                *PAGE_PARAMETERS,
            ],
            "responses": _answers(
                {"200": json_body(ref("SubscriptionPage"), "One page.")},
                **{
                    "400": error(
                        "A bad filter or page parameter.", *PAGE_ERRORS, "invalid_client_id"
                    )
                },
            ),
        },
    },
    "/v1/subscriptions/{subscription_id}": {
        "get": {
            "summary": "Show a subscription",
            "parameters": [SUBSCRIPTION_ID],
            "responses": _answers(
                {"200": json_body(ref("Subscription"), "The subscription.")}, **{"404": NOT_FOUND}
            ),
        },
        "patch": {
            "summary": "Change a subscription (what is given replaces what was)",
            "description": "A disabled subscription's pending deliveries wait until it is "
            "enabled again; a new URL applies to events written after the change.",
            "parameters": [SUBSCRIPTION_ID],
            "requestBody": request_body(ref("SubscriptionPatch")),
            "responses": _answers(
                {"200": json_body(ref("Subscription"), "The subscription as changed.")},
                **{
                    "400": error("A bad body.", *BODY_ERRORS),
                    "404": NOT_FOUND,
                    "413": TOO_LARGE,
                    "422": REFUSED,
                },
            ),
        },
        "delete": {
            "summary": "Delete a subscription and its delivery log",
            "parameters": [SUBSCRIPTION_ID],
            "responses": _answers({"204": {"description": "Deleted."}}, **{"404": NOT_FOUND}),
        },
    },
    "/v1/subscriptions/{subscription_id}/secrets": {
        "post": {
            "summary": "Rotate the signing secret: a new one signs at once, the current ones "
            "until the overlap ends",
            "description": "The body is optional. Every unexpired secret signs each delivery "
            "(one v1 signature each), so a receiver moves to the new one without a gap.",
            "parameters": [SUBSCRIPTION_ID],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": ref("SecretRotation")}},
            },
            "responses": _answers(
                {"201": json_body(ref("SubscriptionWithSecret"), "The new secret, once.")},
                **{
                    "400": error("A bad body.", *BODY_ERRORS),
                    "404": NOT_FOUND,
                    "413": TOO_LARGE,
                },
            ),
        }
    },
    "/v1/subscriptions/{subscription_id}/deliveries": {
        "get": {
            "summary": "The subscription's delivery log, newest event first",
            "parameters": [
                SUBSCRIPTION_ID,
                query_parameter(
                    "state", {"type": "string", "enum": ["pending", "delivered", "abandoned"]}
                ),
                PAGE_PARAMETERS[0],
            ],
            "responses": _answers(
                {"200": json_body(ref("SubscriptionDeliveries"), "The log.")},
                **{
                    "400": error(
                        "A bad parameter.", "unknown_parameter", "invalid_limit", "invalid_state"
                    ),
                    "404": NOT_FOUND,
                },
            ),
        }
    },
    "/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay": {
        "post": {
            "summary": "Send an abandoned delivery again, with a fresh set of attempts",
            "description": "The event keeps its id (webhook-id), so receivers deduplicate it.",
            "parameters": [SUBSCRIPTION_ID, uuid_path("delivery_id")],
            "responses": _answers(
                {"200": json_body(ref("Replayed"), "Back in line.")},
                **{
                    "404": error(
                        "No such subscription, or it has no such delivery.",
                        "subscription_not_found",
                        "delivery_not_found",
                    ),
                    "409": error(
                        "The delivery is pending or was delivered.", "delivery_not_abandoned"
                    ),
                },
            ),
        }
    },
    "/v1/subscriptions/{subscription_id}/ping": {
        "post": {
            "summary": "Send a gateway.ping event to the subscription now",
            "description": "Signed and sent like any event, at once; the answer says how it went "
            "and the delivery log keeps it.",
            "parameters": [SUBSCRIPTION_ID],
            "responses": _answers(
                {"200": json_body(ref("PingResult"), "How the delivery went.")},
                **{
                    "404": NOT_FOUND,
                    "409": error("The subscription is disabled.", "subscription_disabled"),
                },
            ),
        }
    },
}
