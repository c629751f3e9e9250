"""A Salesforce-like provider: the user API served again under an instance's path.

With ``SandboxOptions.instance_url`` set, token responses name the instance (``instance_url``,
``{origin}`` standing for the origin the request came in on), and the user API answers under
``/instances/{instance}/v1/partner/user/...`` as it does at the top level. There it takes the
access token in any of the places providers put it, so that each way a client can be told to send
it is seen arriving:

- ``Authorization: <any scheme> <token>`` (``Bearer``, ``token``, ...);
- ``X-Sandbox-Token: <token>`` (an API-key style header);
- the query parameter ``sandbox_token``.

Exactly one must be present (two, even two of the same kind, is 400 ``ambiguous_credential``).
Every answer says where the token was found (``X-Sandbox-Credential``: ``authorization:<scheme>``,
``header:x-sandbox-token`` or ``query:sandbox_token``) and which instance served it
(``X-Sandbox-Instance``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_sandbox.errors import ApiError, api_error_response
from gateway_sandbox.state.store import SandboxStore

INSTANCES = "/instances/{instance}"
TOKEN_HEADER = b"x-sandbox-token"
TOKEN_PARAM = "sandbox_token"


def instance_url(request: Request, store: SandboxStore) -> str | None:
    """The ``instance_url`` a token response carries, if the sandbox names one (the one it
    started with, or the one the control API moved it to)."""
    if store.instance_url is None:
        return None
    return store.instance_url.replace("{origin}", f"{request.url.scheme}://{request.url.netloc}")


class InstanceApi:
    """Wraps the user API's routes under ``INSTANCES``: finds the token wherever it was put and
    hands it on as ``Authorization: Bearer``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: list[tuple[str, str]] = []
        kept: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                found.append((f"authorization:{scheme.lower()}", token.strip()))
            elif name == TOKEN_HEADER:
                found.append(("header:x-sandbox-token", value.decode("latin-1").strip()))
            else:
                kept.append((name, value))
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        found += [(f"query:{TOKEN_PARAM}", value) for name, value in query if name == TOKEN_PARAM]
        if len(found) > 1:
            places = ", ".join(where for where, _ in found)
            error = ApiError(400, "ambiguous_credential", f"more than one credential: {places}")
            await api_error_response(scope, error)(scope, receive, send)
            return
        where = found[0][0] if found else "none"
        if found:
            kept.append((b"authorization", f"Bearer {found[0][1]}".encode("latin-1")))
        rest = [(name, value) for name, value in query if name != TOKEN_PARAM]
        inner = {**scope, "headers": kept, "query_string": urlencode(rest).encode("latin-1")}
        instance = str(scope.get("path_params", {}).get("instance", ""))

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Sandbox-Instance"] = instance
                headers["X-Sandbox-Credential"] = where
            await send(message)

        await self.app(inner, receive, send_marked)
