"""``/proxy/users/{user_id}/{path}``: forward a service's call with the user's access token."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.clients.auth import require_client
from gateway.clients.policy import is_allowed
from gateway.connections import store
from gateway.connections.errors import ensure_usable
from gateway.exceptions import Forbidden, NotFound
from gateway.kit.clock import utcnow
from gateway.models import Connection
from gateway.providers.errors import ProviderError
from gateway.proxy.paths import InvalidPath, ProxyPath, normalise
from gateway.resources import Resources, resources
from gateway.tokens.policy import expires_soon

PREFIX = "/proxy/users/"
PROVIDER_HEADER = "gateway-provider"
FORWARDED_REQUEST_HEADERS = ("accept", "accept-language", "x-client-timezone", "if-none-match")
RETURNED_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-disposition",
        "content-language",
        "cache-control",
        "etag",
        "last-modified",
        "expires",
        "location",
        "retry-after",
        "idempotent-replayed",
    }
)
MAX_USER_ID_LENGTH = 255


def split_target(raw_path: str) -> tuple[str, ProxyPath]:
    """The user id and the normalised path from the raw request path."""
    user_part, _, rest = raw_path[len(PREFIX) :].partition("/")
    user_id = unquote(user_part)
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH or any(ord(c) < 0x20 for c in user_id):
        raise InvalidPath("the user id in the proxied path is empty, too long or malformed")
    return user_id, normalise("/" + rest)


async def load_connection(res: Resources, user_id: str, provider: str) -> tuple[Connection, str]:
    async with res.db.transaction() as session:
        connection = await store.find(session, user_id, provider)
    if connection is None:
        raise NotFound(
            f"user {user_id!r} has no {provider} connection", code="connection_not_found"
        )
    ensure_usable(connection)
    return connection, store.access_token(res.keys, connection)


async def fresh_token(res: Resources, connection: Connection, token: str) -> tuple[Connection, str]:
    """Refresh first when the token expires within the margin; keep a still-valid token on a hiccup."""
    now = utcnow()
    if not expires_soon(
        connection.expires_at, connection.token_lifetime_seconds, now, res.settings
    ):
        return connection, token
    try:
        fresh = await res.refresher.refresh(connection.id, seen_version=connection.token_version)
    except ProviderError:
        if connection.expires_at is not None and connection.expires_at > now:
            return connection, token
        raise
    return fresh.connection, store.access_token(res.keys, fresh.connection)


async def proxy(request: Request) -> Response:
    principal = await require_client(request, "proxy")
    raw_path = request.scope.get("raw_path", b"").decode("latin-1").partition("?")[0]
    user_id, path = split_target(raw_path)
    if not is_allowed(principal.rules, request.method, path.segments):
        raise Forbidden(
            f"this service may not {request.method} {path.encoded}",
            code="proxy_forbidden",
            details={"method": request.method, "path": path.encoded},
        )
    res = resources(request)
    provider = res.providers.get(request.headers.get(PROVIDER_HEADER))
    connection, token = await load_connection(res, user_id, provider.name)
    connection, token = await fresh_token(res, connection, token)

    url = provider.api_base_url + path.encoded
    query = request.scope.get("query_string", b"").decode("latin-1")
    if query:
        url += "?" + query
    headers = [
        (name, request.headers[name])
        for name in FORWARDED_REQUEST_HEADERS
        if name in request.headers
    ]
    upstream = await res.upstream.send(
        request.method, url, [*headers, ("authorization", f"Bearer {token}")], None
    )
    if upstream.status == 401:
        # The token may have been revoked or rotated early: refresh once (unless another refresh
        # already replaced it) and retry once.
        await upstream.aclose()
        fresh = await res.refresher.refresh(connection.id, seen_version=connection.token_version)
        token = store.access_token(res.keys, fresh.connection)
        upstream = await res.upstream.send(
            request.method, url, [*headers, ("authorization", f"Bearer {token}")], None
        )
    returned = [(k, v) for k, v in upstream.headers if k.lower() in RETURNED_RESPONSE_HEADERS]
    response = StreamingResponse(
        upstream.body, status_code=upstream.status, background=BackgroundTask(upstream.aclose)
    )
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in returned]
    return response
