"""Contio's partner admin API, as far as revocation needs it.

``DELETE /v1/partner/admin/connections/{id}`` invalidates every token of the user's connection, the
ones the gateway never saw included. The id is Contio's, not ours: introspection tells it
(``ext.connection_id``). Errors are translated with the OAuth boundary's classifier, so callers see
only ``ProviderError`` subclasses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
from pydantic import SecretStr

from gateway.providers.contio import CONTIO
from gateway.providers.errors import ProviderError, error_from_response, transport_error
from gateway.settings import Settings

ADMIN_PREFIX = "/v1/partner/admin"
# What we are willing to put in a URL path: Contio's ids are UUIDs.
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
WHAT = "admin connection revocation"


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
        headers = {"Accept": "application/json", "X-API-Key": self._api_key.get_secret_value()}
        if self._client_id:
            headers["X-Client-ID"] = self._client_id
        try:
            response = await self._http.delete(
                f"{self._base}/connections/{connection_id}", headers=headers
            )
        except httpx.HTTPError as exc:
            raise transport_error(CONTIO, WHAT, exc) from exc
        if response.is_success or response.status_code == 404:
            return
        raise error_from_response(CONTIO, WHAT, response)


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
