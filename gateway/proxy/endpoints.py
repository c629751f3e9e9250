"""``/proxy/users/{user_id}/{path}``: forward a service's call with the user's access token.

A plain ASGI endpoint mounted in the Starlette app (same URL, same errors): on the hot path there is no
Request or Response object, no database round trip and no decryption once the caller's key and the
user's token are cached. In order: authenticate the service key (cached), spend its rate limit,
normalise the path, check the allow rules and the user namespace (refusals are audited), find the
user's token (cached), refresh it if it is about to expire, then exchange with the provider
(``forward``) and relay the answer. A 401 from the provider refreshes the token once and, when the
body can be sent again, retries once.
"""

from __future__ import annotations

import uuid
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from gateway.clients.store import Principal
from gateway.exceptions import Forbidden, GatewayError, Unauthorized, error_response
from gateway.providers.client import OAuthClient
from gateway.proxy.access import Call, check_call, check_connection
from gateway.proxy.body import CallerGone, read_body
from gateway.proxy.errors import RateLimited
from gateway.proxy.forward import Answer, Outgoing
from gateway.proxy.headers import header
from gateway.proxy.paths import InvalidPath, ProxyPath, normalise
from gateway.proxy.relay import relay
from gateway.proxy.retries import repeatable
from gateway.proxy.tokens import UserToken
from gateway.resources import Resources

PREFIX = "/proxy/users/"
PROVIDER_HEADER = b"gateway-provider"
MAX_USER_ID_LENGTH = 255
SCOPE = "proxy"


def route_path(path: str, scope: Scope) -> str:
    """``path`` without the app's root path, when it is mounted below one."""
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def split_target(raw_path: str) -> tuple[str, ProxyPath]:
    """The user id and the normalised path from the raw request path."""
    user_part, slash, rest = raw_path[len(PREFIX) :].partition("/")
    user_id = unquote(user_part)
    if not slash:
        raise InvalidPath("the proxied path must name a path below the user id")
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH or any(ord(c) < 0x20 for c in user_id):
        raise InvalidPath("the user id in the proxied path is empty, too long or malformed")
    return user_id, normalise("/" + rest)


async def authenticate(res: Resources, scope: Scope) -> Principal:
    """The calling service, which must hold the ``proxy`` scope; 401 or 403 otherwise."""
    authorization = header(scope["headers"], b"authorization") or b""
    scheme, _, credentials = authorization.decode("latin-1").partition(" ")
    key = credentials.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send your service key as Authorization: Bearer <key>")
    principal = await res.proxy.client_keys.authenticate(key)
    if principal is None:
        raise Unauthorized("the service key is not valid")
    if SCOPE not in principal.scopes:
        raise Forbidden(
            f"this service key lacks the {SCOPE!r} scope",
            code="insufficient_scope",
            details={"required_scope": SCOPE},
        )
    return principal


async def admit(res: Resources, scope: Scope) -> tuple[Call, OAuthClient, UserToken]:
    """Everything before the provider is called: who calls, for whom, to which provider, with
    which token; each refusal raised in the gateway's error shape."""
    principal = await authenticate(res, scope)
    if principal.rate_limit is not None:
        wait = res.proxy.rate_limits.take(principal.client_id, principal.rate_limit)
        if wait is not None:
            raise RateLimited("this service's rate limit is spent; retry later", retry_after=wait)
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    user_id, path = split_target(route_path(raw_path.partition("?")[0], scope))
    call = Call(principal, scope["method"], path, user_id)
    await check_call(res.db, call)
    requested = header(scope["headers"], PROVIDER_HEADER)
    provider = res.providers.get(requested.decode("latin-1") if requested is not None else None)
    token = await res.proxy.tokens.current(user_id, provider.name)
    await check_connection(res.db, call, token.connection_id, token.created_by_client_id)
    token = await res.proxy.tokens.fresh(token, user_id, provider.name)
    return call, provider, token


async def answer(res: Resources, scope: Scope, receive: Receive) -> tuple[Answer, bool]:
    """The provider's answer to the call, and whether the caller's body was read to its end."""
    proxy = res.proxy
    call, provider, token = await admit(res, scope)
    body = await read_body(scope, receive, proxy.replay_buffer)
    url = provider.api_base_url + call.path.encoded
    query: bytes = scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    outgoing = Outgoing(
        method=call.method,
        url=url,
        caller_headers=scope["headers"],
        request_id=scope.get("state", {}).get("request_id") or uuid.uuid4().hex,
        body=body,
        repeatable=repeatable(
            call.method, header(scope["headers"], b"idempotency-key") is not None
        ),
    )
    deadline = proxy.forwarder.deadline()
    reply = await proxy.forwarder.exchange(outgoing, token.access_token, deadline)
    if reply.status == 401:
        # The token may have been revoked or rotated early: refresh once (unless another refresh
        # already replaced it) and retry once; a body already streamed away gets the 401 back.
        try:
            token = await proxy.tokens.replace(token, call.user_id, provider.name)
        except BaseException:
            reply.response.close()
            raise
        if body.replayable:
            reply.response.close()
            reply = await proxy.forwarder.exchange(outgoing, token.access_token, deadline)
    return reply, body.finished


class ProxyEndpoint:
    """The ASGI app behind the route; it keeps nothing itself (resources come from the lifespan)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        res: Resources = scope["state"]["resources"]
        try:
            reply, body_read = await answer(res, scope, receive)
        except GatewayError as exc:
            await error_response(exc)(scope, receive, send)
            return
        except CallerGone:
            return
        await relay(reply, scope["method"], receive if body_read else None, send)
