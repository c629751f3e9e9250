"""The console's URL map, mounted at ``/console`` with its security headers and a small body limit
(its forms are a few fields; the largest, a connection's edit form, holds at most 16 KiB of
metadata, which form encoding and indentation make up to a few times larger)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from gateway.console import (
    actions,
    assets,
    clients,
    connections,
    delegated_keys,
    editing,
    signin,
)
from gateway.console.guard import HOME
from gateway.console.headers import ConsoleHeaders
from gateway.console.render import see_other
from gateway.kit.request_body import BodyLimit

MAX_BODY_BYTES = 128 * 1024


async def home(request: Request) -> Response:
    return see_other(HOME)


console = Mount(
    "/console",
    routes=[
        Route("/", home, methods=["GET"]),
        Route("/console.css", assets.stylesheet, methods=["GET"]),
        Route("/sign-in", signin.show, methods=["GET"]),
        Route("/sign-in", signin.submit, methods=["POST"]),
        Route("/sign-out", signin.sign_out, methods=["POST"]),
        Route("/connections", connections.list_connections, methods=["GET"]),
        Route("/connections/{connection_id}", connections.show_connection, methods=["GET"]),
        Route("/connections/{connection_id}/revoke", actions.confirm_revoke, methods=["GET"]),
        Route("/connections/{connection_id}/revoke", actions.revoke, methods=["POST"]),
        Route("/connections/{connection_id}/refresh", actions.refresh, methods=["POST"]),
        Route("/connections/{connection_id}/pause", editing.pause, methods=["POST"]),
        Route("/connections/{connection_id}/resume", editing.resume, methods=["POST"]),
        Route("/connections/{connection_id}/edit", editing.edit, methods=["POST"]),
        Route("/connections/{connection_id}/default", editing.make_default, methods=["POST"]),
        Route("/connections/{connection_id}/keys", delegated_keys.issue, methods=["POST"]),
        Route(
            "/connections/{connection_id}/keys/{key_id}",
            delegated_keys.show_issued,
            methods=["GET"],
        ),
        Route(
            "/connections/{connection_id}/keys/{key_id}/revoke",
            delegated_keys.revoke,
            methods=["POST"],
        ),
        Route("/clients", clients.list_clients, methods=["GET"]),
    ],
    middleware=[Middleware(ConsoleHeaders), Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)],
)
