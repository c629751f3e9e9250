"""Two listeners, one app: with ``serve --public-port`` the routes the internet must reach get a port
of their own, and only they answer there, so the internal API, proxy, console and metrics are never
exposed to browsers or providers (point the public load balancer at the public port only)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.exceptions import plain_error

GET = frozenset({"GET", "HEAD"})
POST = frozenset({"POST"})

# What the internet needs, by exact path: the connect redirect and the provider's callback (a user's
# browser), the provider's webhooks, the public keys of private_key_jwt (fetched by providers), and
# a health check for the load balancer in front.
PUBLIC_PATHS: dict[str, frozenset[str]] = {
    "/connect": GET,
    "/oauth/callback": GET,
    "/webhooks/contio": POST,
    "/.well-known/jwks.json": GET,
    "/healthz": GET,
}
# And by prefix: the provisioning code page, shown and submitted (``/provision/{provisioning_id}``).
PUBLIC_PREFIXES: dict[str, frozenset[str]] = {"/provision/": GET | POST}


def is_public(path: str, method: str) -> bool:
    """Whether ``method path`` answers on the public port; anything else is a 404 there."""
    methods = PUBLIC_PATHS.get(path)
    if methods is None:
        methods = next(
            (allowed for prefix, allowed in PUBLIC_PREFIXES.items() if path.startswith(prefix)),
            frozenset(),
        )
    return method in methods


class PublicPort:
    """The public port's test, one for the middleware and the proxy's front door (which leaves a
    request that came in on it to the middleware: the proxy is a 404 there)."""

    __slots__ = ("port",)

    def __init__(self, port: int | None) -> None:
        self.port = port

    def arrived_on(self, scope: Scope) -> bool:
        """Whether an HTTP request came in on the public port."""
        server = scope.get("server")
        return self.port is not None and server is not None and server[1] == self.port


class PublicPortGuard:
    """Answers 404 on the public port for any method and path that is not public."""

    def __init__(self, app: ASGIApp, public_port: PublicPort) -> None:
        self.app = app
        self.public_port = public_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.public_port.arrived_on(scope)
            and not is_public(scope["path"], scope["method"])
        ):
            response = plain_error(404, "not_found", "Not found.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
