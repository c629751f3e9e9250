"""Contio's partner admin API, as far as revocation and the webhook settings need it.

``DELETE /v1/partner/admin/connections/{id}`` invalidates every token of the user's connection, the
ones the gateway never saw included. The id is Contio's, not ours: introspection tells it
(``ext.connection_id``).

The webhook settings: ``GET /app`` (the PartnerApp: URL, on/off, filter), ``PUT|DELETE
/webhook-filter``, ``PUT /webhook-status`` and the totals of ``GET /webhook-deliveries`` by status.
Contio's SDK puts the filter and status paths under ``/app/``, its OpenAPI spec (the server's
contract) does not; the gateway uses the spec's form.

Errors are translated with the OAuth boundary's classifier, so callers see only ``ProviderError``
subclasses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from gateway.providers.contio import CONTIO
from gateway.providers.errors import (
    ProviderError,
    error_from_response,
    json_body,
    transport_error,
)
from gateway.settings import Settings

ADMIN_PREFIX = "/v1/partner/admin"
# What we are willing to put in a URL path: Contio's ids are UUIDs.
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
WHAT = "admin connection revocation"
FILTER = "webhook filter"
DELIVERY_STATUSES = ("pending", "delivered", "failed", "abandoned")
PENDING_DISPOSITIONS = ("deliver", "abandon")


@dataclass(frozen=True)
class WebhookFilter:
    type: Literal["include", "exclude"]
    events: tuple[str, ...]


@dataclass(frozen=True)
class WebhookSettings:
    """Contio's webhook to the gateway, as its PartnerApp shows it."""

    url: str | None
    enabled: bool
    filter: WebhookFilter | None


class ContioAdmin:
    def __init__(
        self, http: httpx.AsyncClient, api_url: str, api_key: SecretStr, client_id: str | None
    ) -> None:
        self._http = http
        self._base = f"{api_url.rstrip('/')}{ADMIN_PREFIX}"
        self._api_key = api_key
        self._client_id = client_id

    def __repr__(self) -> str:
        return f"ContioAdmin({self._base!r}, api_key=***)"

    async def revoke_connection(self, connection_id: str) -> None:
        """Revoke Contio's connection ``connection_id``; one that is already gone counts as done."""
        if not _CONNECTION_ID.fullmatch(connection_id):
            raise ProviderError(f"{CONTIO} connection id is malformed", provider=CONTIO)
        response = await self._send("DELETE", f"/connections/{connection_id}", WHAT)
        if response.is_success or response.status_code == 404:
            return
        raise error_from_response(CONTIO, WHAT, response)

    async def webhook_settings(self) -> WebhookSettings:
        return _webhook_settings(await self._call("GET", "/app", "app settings"))

    async def set_webhook_filter(self, webhook_filter: WebhookFilter | None) -> WebhookSettings:
        """Set Contio's event filter (``None`` removes it: every type is sent)."""
        if webhook_filter is None:
            return _webhook_settings(await self._call("DELETE", "/webhook-filter", FILTER))
        body: dict[str, object] = {
            "type": webhook_filter.type,
            "events": list(webhook_filter.events),
        }
        return _webhook_settings(await self._call("PUT", "/webhook-filter", FILTER, body))

    async def set_webhook_enabled(
        self, enabled: bool, pending_disposition: str = "deliver"
    ) -> WebhookSettings:
        """Turn Contio's deliveries on or off; turning them on delivers or abandons the events it
        held meanwhile (``pending_disposition``)."""
        body: dict[str, object] = {"enabled": enabled}
        if enabled:
            body["pending_disposition"] = pending_disposition
        return _webhook_settings(await self._call("PUT", "/webhook-status", "webhook status", body))

    async def delivery_totals(self) -> dict[str, int]:
        """How many of Contio's webhook deliveries are in each status."""
        totals: dict[str, int] = {}
        for status in DELIVERY_STATUSES:
            page = await self._call(
                "GET",
                "/webhook-deliveries",
                "webhook deliveries",
                params={"status": status, "limit": 1},
            )
            total = page.get("total")
            if not isinstance(total, int):
                raise _malformed("webhook deliveries")
            totals[status] = total
        return totals

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        body: dict[str, object] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> dict[str, Any]:
        response = await self._send(method, path, what, body, params)
        if not response.is_success:
            raise error_from_response(CONTIO, what, response)
        found = json_body(response)
        if not isinstance(found, dict):
            raise _malformed(what)
        return found

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        body: dict[str, object] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json", "X-API-Key": self._api_key.get_secret_value()}
        if self._client_id:
            headers["X-Client-ID"] = self._client_id
        try:
            return await self._http.request(
                method, f"{self._base}{path}", headers=headers, json=body, params=params
            )
        except httpx.HTTPError as exc:
            raise transport_error(CONTIO, what, exc) from exc


def contio_admin(settings: Settings, http: httpx.AsyncClient) -> ContioAdmin | None:
    """The admin API client when ``GATEWAY_CONTIO_ADMIN_API_KEY`` is set."""
    if settings.contio_admin_api_key is None:
        return None
    return ContioAdmin(
        http, settings.contio_api_url, settings.contio_admin_api_key, settings.contio_client_id
    )


def connection_id(introspection: Mapping[str, object]) -> str | None:
    """Contio's connection id from an introspection answer (``ext.connection_id``), if active."""
    ext = introspection.get("ext")
    if introspection.get("active") is not True or not isinstance(ext, Mapping):
        return None
    found = ext.get("connection_id")
    return found if isinstance(found, str) and _CONNECTION_ID.fullmatch(found) else None


def _webhook_settings(app: dict[str, Any]) -> WebhookSettings:
    """The webhook fields of a PartnerApp; ProviderError when they are not what Contio documents."""
    url, enabled, found = (
        app.get("webhook_url"),
        app.get("webhook_enabled"),
        app.get("webhook_filter"),
    )
    if not isinstance(enabled, bool) or not (url is None or isinstance(url, str)):
        raise _malformed("app settings")
    if found is None:
        return WebhookSettings(url, enabled, None)
    kind = found.get("type") if isinstance(found, dict) else None
    events = found.get("events") if isinstance(found, dict) else None
    if kind not in ("include", "exclude") or not isinstance(events, list):
        raise _malformed("app settings")
    chosen = WebhookFilter("include" if kind == "include" else "exclude", tuple(map(str, events)))
    return WebhookSettings(url, enabled, chosen)


def _malformed(what: str) -> ProviderError:
    return ProviderError(
        f"{CONTIO} {what}: the answer is not what Contio documents", provider=CONTIO
    )
