"""The service clients list: names, scopes, allow rules and key prefixes, never a key or its hash."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.clients.store import list_clients as all_clients
from gateway.clients.views import client_json
from gateway.console.guard import Operator, operator_page
from gateway.console.render import page
from gateway.resources import resources


@operator_page
async def list_clients(request: Request, operator: Operator) -> Response:
    async with resources(request).db.transaction() as session:
        clients = [client_json(client) for client in await all_clients(session)]
    return page("clients.html", operator=operator, clients=clients)
