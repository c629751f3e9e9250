"""The partner admin API under ``/v1/partner/admin``: connections, workspaces, webhook deliveries
(the partner app and its webhook switches are in ``partner_app``).

Every call needs ``X-API-Key: <SandboxOptions.admin_api_key>`` (else 401 ``unauthorized``); an
``X-Client-ID``, which Contio's spec pairs with the key, must name the sandbox's client if sent.
Lists are offset-paginated with a default ``limit`` of 50.
"""

from __future__ import annotations

import hmac
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import query
from gateway_sandbox.errors import ApiError
from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.state import partner_connections
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.records import Connection
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.state.webhook_delivery import DELIVERY_STATUSES, delivery_json

ADMIN_LIMIT = 50


class AdminApi:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.options = store.options
        self.partner_app_id = partner_connections.partner_app_id(store.options.client_id)

    async def connections(self, request: Request) -> Response:
        self._authenticate(request)
        params = request.query_params
        limit, offset = query.pagination(params, ADMIN_LIMIT)
        status = query.choice(params, "status", partner_connections.STATUSES)
        user_id = params.get("user_id")
        wanted_user = None if user_id is None else query.uuid(user_id, "invalid_user_id", "user_id")
        found = [
            partner_connections.to_json(c)
            for c in self.store.connections()
            if (status is None or c.status == status)
            and (wanted_user is None or c.user.id == wanted_user)
        ]
        return JSONResponse(query.page(found, limit, offset))

    async def connection(self, request: Request) -> Response:
        self._authenticate(request)
        connection = self._connection(request)
        if request.method == "DELETE":
            self.store.revoke_connection(connection.id)
            return Response(status_code=204)
        return JSONResponse(partner_connections.to_json(connection))

    async def workspaces(self, request: Request) -> Response:
        self._authenticate(request)
        limit, offset = query.pagination(request.query_params, ADMIN_LIMIT)
        found = [
            {
                "workspace_id": str(workspace.id),
                "workspace_name": workspace.name,
                "provisioned_at": rfc3339(workspace.created_at),
                "user_count": user_count,
            }
            for workspace, user_count in self.store.workspaces()
        ]
        return JSONResponse(query.page(found, limit, offset))

    async def deliveries(self, request: Request) -> Response:
        self._authenticate(request)
        params = request.query_params
        limit, offset = query.pagination(params, ADMIN_LIMIT)
        status = query.choice(params, "status", DELIVERY_STATUSES)
        event_type = params.get("event_type")
        records = sorted(self.store.deliveries.all(), key=lambda r: r.created_at)
        found = [
            delivery_json(record, self.partner_app_id)
            for record in records
            if (status is None or record.status == status)
            and (event_type is None or record.event_type == event_type)
        ]
        return JSONResponse(query.page(found, limit, offset, key="deliveries"))

    async def delivery(self, request: Request) -> Response:
        self._authenticate(request)
        delivery_id = self._delivery_id(request)
        record = self.store.deliveries.get(delivery_id)
        if record is None:
            raise ApiError(404, "not_found", "No such webhook delivery.")
        return JSONResponse(delivery_json(record, self.partner_app_id))

    async def retry_delivery(self, request: Request) -> Response:
        self._authenticate(request)
        delivery_id = self._delivery_id(request)
        if self.store.deliveries.get(delivery_id) is None:
            raise ApiError(404, "not_found", "No such webhook delivery.")
        if not self.store.retry_delivery(delivery_id):
            raise ApiError(409, "conflict", "The delivery is still being attempted.")
        record = self.store.deliveries.get(delivery_id)
        assert record is not None
        return JSONResponse(
            {
                "delivery_id": str(delivery_id),
                "message": "The delivery is queued for another attempt.",
                "retry_scheduled": True,
                "retry_count": record.retry_count,
                "next_retry_at": None,
            }
        )

    def _authenticate(self, request: Request) -> None:
        authenticate(request, self.options)

    def _connection(self, request: Request) -> Connection:
        connection_id = query.uuid(
            request.path_params["connection_id"], "invalid_connection_id", "connectionId"
        )
        connection = self.store.connection(connection_id)
        if connection is None:
            raise ApiError(404, "not_found", "No such connection.")
        return connection

    def _delivery_id(self, request: Request) -> UUID:
        return query.uuid(request.path_params["delivery_id"], "invalid_delivery_id", "deliveryId")


def authenticate(request: Request, options: SandboxOptions) -> None:
    """Refuse (401) a call without the partner's admin key, or naming another client."""
    key = request.headers.get("x-api-key", "")
    client_id = request.headers.get("x-client-id")
    valid_key = hmac.compare_digest(key.encode(), options.admin_api_key.encode())
    if not valid_key or client_id not in (None, options.client_id):
        raise ApiError(401, "unauthorized", "A valid X-API-Key is required.")
