"""The partner app and its webhook switches, in the partner admin API.

- ``GET /app``: the PartnerApp, with ``webhook_enabled`` and ``webhook_filter``.
- ``PUT /webhook-filter`` ``{type: include|exclude, events: [...]}`` sets the filter (an unknown
  event type is 400 ``validation_error`` listing ``valid_event_types``); ``DELETE`` removes it.
- ``PUT /webhook-status`` ``{enabled, pending_disposition: deliver|abandon}`` turns deliveries on
  or off; turning them on delivers (the default) or abandons the events held while they were off.

Contio's SDK calls the last two under ``/app/`` and its spec without; both forms are served. Each
answers the PartnerApp as it is afterwards.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.admin.endpoints import authenticate
from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import invalid, json_body
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.event_catalogue import EVENT_TYPES
from gateway_sandbox.state.partner_connections import partner_app_id
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.state.webhook_settings import FILTER_TYPES, EventFilter, WebhookState

PENDING_DISPOSITIONS = ("deliver", "abandon")
CONTACT_EMAIL = "partner@example.com"


class PartnerAppApi:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.options = store.options
        self.created_at = store.now()

    async def app(self, request: Request) -> Response:
        authenticate(request, self.options)
        return self._app(self.store.webhook_settings.current())

    async def webhook_filter(self, request: Request) -> Response:
        authenticate(request, self.options)
        settings = self.store.webhook_settings
        if request.method == "DELETE":
            return self._app(settings.set_filter(None))
        body = await json_body(request)
        kind = body.choice("type", FILTER_TYPES, "validation_error")
        events = body.raw.get("events")
        if kind is None or not isinstance(events, list):
            raise invalid("type and events are required.", "validation_error")
        unknown = [e for e in events if e not in EVENT_TYPES]
        if unknown:
            raise ApiError(
                400,
                "validation_error",
                f"Unknown event types: {', '.join(map(str, unknown))}.",
                extra={"valid_event_types": list(EVENT_TYPES)},
            )
        chosen = tuple(dict.fromkeys(str(e) for e in events))
        include = kind == "include"
        return self._app(
            settings.set_filter(EventFilter("include" if include else "exclude", chosen))
        )

    async def webhook_status(self, request: Request) -> Response:
        authenticate(request, self.options)
        body = await json_body(request)
        enabled = body.boolean("enabled")
        if enabled is None:
            raise invalid("enabled is required.", "validation_error")
        disposition = body.choice("pending_disposition", PENDING_DISPOSITIONS, "validation_error")
        state = self.store.webhook_settings.set_enabled(enabled)
        if enabled:
            self.store.webhooks.release(deliver=disposition != "abandon")
        return self._app(state)

    def _app(self, state: WebhookState) -> Response:
        options = self.options
        event_filter = state.event_filter
        shown_filter = (
            None
            if event_filter is None
            else {"type": event_filter.type, "events": list(event_filter.events)}
        )
        return JSONResponse(
            {
                "id": str(partner_app_id(options.client_id)),
                "name": options.app_name,
                "description": f"{options.app_name}, registered at the Contio sandbox.",
                "company_name": options.app_name,
                "client_id": options.client_id,
                "slug": re.sub(r"[^a-z0-9]+", "-", options.app_name.lower()).strip("-"),
                "status": "active",
                "primary_contact_email": CONTACT_EMAIL,
                "webhook_url": options.webhook_url,
                "webhook_enabled": state.enabled,
                "webhook_filter": shown_filter,
                "default_toolkit_id": None,
                "created_at": rfc3339(self.created_at),
                "updated_at": rfc3339(state.updated_at),
            }
        )
