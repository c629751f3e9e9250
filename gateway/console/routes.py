"""The console's URL map, mounted at ``/console`` with its security headers. Every form is posted
under a small body limit (a few fields); the edit form's is larger: it holds up to 16 KiB of
metadata, which indentation and form encoding make up to a few times larger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from gateway.console import (
    actions,
    assets,
    audit,
    clients,
    connections,
    creating,
    delegated_keys,
    editing,
    keys,
    revocations,
    signin,
    sso,
    subscriptions,
)
from gateway.console.guard import HOME
from gateway.console.headers import ConsoleHeaders
from gateway.console.render import see_other
from gateway.kit.request_body import BodyLimit

FORM_MAX_BYTES = 16 * 1024
EDIT_FORM_MAX_BYTES = 128 * 1024


async def home(request: Request) -> Response:
    return see_other(HOME)


def form(
    path: str,
    endpoint: Callable[[Request], Awaitable[Response]],
    *,
    max_bytes: int = FORM_MAX_BYTES,
) -> Route:
    """A form's POST route, its body capped at ``max_bytes``."""
    capped = [Middleware(BodyLimit, max_bytes=max_bytes)]
    return Route(path, endpoint, methods=["POST"], middleware=capped)


console = Mount(
    "/console",
    routes=[
        Route("/", home, methods=["GET"]),
        Route("/console.css", assets.stylesheet, methods=["GET"]),
        Route("/sign-in", signin.show, methods=["GET"]),
        form("/sign-in", signin.submit),
        form("/sign-out", signin.sign_out),
        Route("/sso/start", sso.start, methods=["GET"]),
        Route("/sso/callback", sso.callback, methods=["GET"]),
        Route("/connections", connections.list_connections, methods=["GET"]),
        # Before /connections/{connection_id}, which would take "new" for an id.
        Route("/connections/new", creating.show, methods=["GET"]),
        form("/connections/new/client-credentials", creating.create_client_credentials),
        form("/connections/new/credential", creating.create_credential),
        Route("/connections/{connection_id}", connections.show_connection, methods=["GET"]),
        Route("/connections/{connection_id}/revoke", actions.confirm_revoke, methods=["GET"]),
        form("/connections/{connection_id}/revoke", actions.revoke),
        form("/connections/{connection_id}/refresh", actions.refresh),
        form("/connections/{connection_id}/verify", actions.verify),
        form("/connections/{connection_id}/pause", editing.pause),
        form("/connections/{connection_id}/resume", editing.resume),
        form("/connections/{connection_id}/edit", editing.edit, max_bytes=EDIT_FORM_MAX_BYTES),
        form("/connections/{connection_id}/default", editing.make_default),
        form("/connections/{connection_id}/keys", delegated_keys.issue),
        Route(
            "/connections/{connection_id}/keys/{key_id}",
            delegated_keys.show_issued,
            methods=["GET"],
        ),
        form("/connections/{connection_id}/keys/{key_id}/revoke", delegated_keys.revoke),
        Route("/clients", clients.list_clients, methods=["GET"]),
        form("/clients", clients.create),
        Route("/clients/{name}", clients.show, methods=["GET"]),
        form("/clients/{name}/edit", clients.edit),
        form("/clients/{name}/enabled", clients.set_enabled),
        form("/clients/{name}/key", clients.rotate_key),
        Route("/audit", audit.list_audit, methods=["GET"]),
        Route("/revocations", revocations.show, methods=["GET"]),
        form("/revocations", revocations.revoke),
        Route("/keys", keys.show, methods=["GET"]),
        Route("/keys/rotation", keys.confirm_rotation, methods=["GET"]),
        form("/keys/rotation", keys.rotate),
        Route("/subscriptions", subscriptions.list_subscriptions, methods=["GET"]),
        form("/subscriptions", subscriptions.create),
        Route("/subscriptions/{subscription_id}", subscriptions.show, methods=["GET"]),
        form("/subscriptions/{subscription_id}/enabled", subscriptions.set_enabled),
        form("/subscriptions/{subscription_id}/rotate", subscriptions.rotate),
        form(
            "/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
            subscriptions.replay,
        ),
    ],
    middleware=[Middleware(ConsoleHeaders)],
)
