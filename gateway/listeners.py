"""Two listeners, one app: with ``serve --public-port`` the browser-facing routes get a port of their
own, and only they answer there, so the internal API, proxy, console and metrics are never exposed to
browsers (point the public load balancer at the public port only)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.exceptions import plain_error

# What a user's browser needs: the connect redirect, the provider's callback, the provisioning code
# page, and a health check for the load balancer in front of it.
PUBLIC_PATHS = ("/connect", "/oauth/callback", "/healthz")
PUBLIC_PREFIXES = ("/provision/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def on_public_listener(scope: Scope, public_port: int | None) -> bool:
    """Whether an HTTP request came in on the public port."""
    server = scope.get("server")
    return public_port is not None and server is not None and server[1] == public_port


class PublicListener:
    """Answers 404 on the public port for anything that is not a browser-facing route."""

    def __init__(self, app: ASGIApp, public_port: int | None = None) -> None:
        self.app = app
        self.public_port = public_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and on_public_listener(scope, self.public_port)
            and not is_public(scope["path"])
        ):
            response = plain_error(404, "not_found", "Not found.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
