"""An API-key-protected API, beside Contio's: the shape of the many providers that take a stored
credential instead of an OAuth grant.

It accepts the keys it was seeded with (``SandboxOptions.api_keys``, or ``POST /_sandbox/api-keys``
later) as ``Authorization: Bearer <key>``, ``X-Api-Key: <key>`` or the query parameter
``api_key`` (given once: twice is ``400 ambiguous_credential``), and the seeded user and password
pairs as ``Authorization: Basic``; anything else is ``401 invalid_credentials``. It never echoes a
credential: ``/keyed/v1/me`` names the key by a short fingerprint and says how it came.

- ``GET /keyed/v1/me``: ``{"key": <fingerprint>, "scheme": "bearer" | "header" | "query" |
  "basic"}``.
- ``{any method} /keyed/v1/items/{path}``: ``{"method", "path", "scheme", "body_bytes"}``.
- ``POST /_sandbox/api-keys``: ``{"api_key": ...}`` or ``{"username": ..., "password": ...}``
  adds one; ``POST /_sandbox/api-keys/revoke`` with the same body stops accepting it (as a provider
  whose user revoked a key); ``GET /_sandbox/api-keys/calls`` counts the calls each scheme made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import Counter

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import json_object
from gateway_sandbox.options import SandboxOptions

PREFIX = "/keyed/v1"
QUERY_PARAM = "api_key"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


class KeyedApi:
    def __init__(self, options: SandboxOptions) -> None:
        self._keys: set[str] = set(options.api_keys)
        self._basic: set[tuple[str, str]] = set(options.basic_credentials)
        self.calls: Counter[str] = Counter()

    def routes(self, control: str) -> list[Route]:
        return [
            Route(f"{PREFIX}/me", self.me, methods=["GET", "HEAD", "POST"]),
            Route(
                f"{PREFIX}/items/{{path:path}}",
                self.items,
                methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            ),
            Route(f"{control}/api-keys", self.add, methods=["POST"]),
            Route(f"{control}/api-keys/revoke", self.revoke, methods=["POST"]),
            Route(f"{control}/api-keys/calls", self.counted, methods=["GET"]),
        ]

    def _caller(self, request: Request) -> tuple[str, str]:
        """(fingerprint, scheme) of an accepted credential; 401 otherwise."""
        header = request.headers.get("x-api-key")
        if header is not None and self._known_key(header):
            return fingerprint(header), "header"
        in_query = request.query_params.getlist(QUERY_PARAM)
        if len(in_query) > 1:
            raise ApiError(400, "ambiguous_credential", f"{QUERY_PARAM} is given more than once")
        if in_query and self._known_key(in_query[0]):
            return fingerprint(in_query[0]), "query"
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._known_key(value.strip()):
            return fingerprint(value.strip()), "bearer"
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if any(
                hmac.compare_digest(user, u) and hmac.compare_digest(password, p)
                for u, p in self._basic
            ):
                return fingerprint(f"{user}:{password}"), "basic"
        raise ApiError(401, "invalid_credentials", "the API key or credentials are not valid")

    def _known_key(self, offered: str) -> bool:
        return any(hmac.compare_digest(offered, key) for key in self._keys)

    async def me(self, request: Request) -> Response:
        key, scheme = self._caller(request)
        self.calls[scheme] += 1
        return JSONResponse({"key": key, "scheme": scheme})

    async def items(self, request: Request) -> Response:
        _key, scheme = self._caller(request)
        self.calls[scheme] += 1
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.path_params["path"],
                "scheme": scheme,
                "body_bytes": len(body),
            }
        )

    async def add(self, request: Request) -> Response:
        key, pair = _credential(json_object(await request.body()))
        if key is not None:
            self._keys.add(key)
        if pair is not None:
            self._basic.add(pair)
        return Response(status_code=204)

    async def revoke(self, request: Request) -> Response:
        key, pair = _credential(json_object(await request.body()))
        if key is not None:
            self._keys.discard(key)
        if pair is not None:
            self._basic.discard(pair)
        return Response(status_code=204)

    async def counted(self, request: Request) -> Response:
        return JSONResponse(dict(self.calls))


def _credential(document: dict[str, object]) -> tuple[str | None, tuple[str, str] | None]:
    """The API key, or the user and password, a control request names; 400 for neither."""
    key, user, password = (
        document.get("api_key"),
        document.get("username"),
        document.get("password"),
    )
    if isinstance(key, str) and key:
        return key, None
    if isinstance(user, str) and isinstance(password, str):
        return None, (user, password)
    raise ApiError(400, "bad_request", "give api_key, or username and password")
