"""``/proxy/users/{user_id}/{path}`` and ``/proxy/connections/{connection_id}/{path}``: forward a
service's call with the access token of the user's default connection, or of the connection
addressed by id, and relay the provider's response.

A plain ASGI endpoint: on the hot path there is no Request or Response object, no database round
trip and no decryption once the call's admission and the connection's token are cached. In order:
admit the call (``admission``: the service key, its rate limit, the path, the allow rules and the
user namespace), find the connection's token in the client's space (``token_cache``; a paused
connection is refused there, 409 ``connection_disabled``), refresh the token if it is about to
expire, then exchange with the provider (``forward``) and relay the response. A 401 from
the provider refreshes the token once and, when the body can be sent again, retries once; within the
401 cool-down (``TokenSource.replace``) the 401 is relayed as it is.

The relay: a body read whole (``forward`` reads small ones before answering) goes back in one piece
with its length. A larger one streams chunk by chunk under the server's flow control, so memory does
not grow with it; if the caller goes away the provider's connection is dropped, and if the provider
breaks off mid-body the response is cut short too (never completed as if whole).

Requests normally arrive through the front door (``front``), which does the request's own concerns
(``gateway.kit.middleware``); a ``ProxyRoute`` for each of the two prefixes mounts the same endpoint
in Starlette's routing for the rest. Each takes everything below its prefix, however odd:
Starlette's path patterns do not match some paths (a decoded newline, for one), which would make
them 404s, and the proxy must see every such path itself and refuse it as 400 ``invalid_path``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from gateway.exceptions import GatewayError, error_response
from gateway.kit.middleware import RequestRecord
from gateway.providers.spender import Spender
from gateway.proxy.admission import Admission, admission_key
from gateway.proxy.errors import UpstreamFailure
from gateway.proxy.forward import (
    NO_BODY,
    CallerGone,
    UpstreamRequest,
    UpstreamResponse,
    announced_length,
    read_body,
    repeatable,
)
from gateway.proxy.headers import CallerHeaders, header, returned_headers
from gateway.proxy.injection import target
from gateway.proxy.paths import (
    CONNECTIONS_PREFIX,
    SDK_CONNECTIONS_PREFIX,
    SDK_USERS_PREFIX,
    USERS_PREFIX,
    route_path,
)
from gateway.proxy.token_cache import UserToken

if TYPE_CHECKING:
    from gateway.proxy.assembly import Proxy

log = logging.getLogger(__name__)

# The routes' labels in metrics and spans.
USERS_TEMPLATE = f"{USERS_PREFIX}{{user_id}}/{{path:path}}"
CONNECTIONS_TEMPLATE = f"{CONNECTIONS_PREFIX}{{connection_id}}/{{path:path}}"
SDK_USERS_TEMPLATE = f"{SDK_USERS_PREFIX}{{user_id}}/{{path:path}}"
SDK_CONNECTIONS_TEMPLATE = f"{SDK_CONNECTIONS_PREFIX}{{connection_id}}/{{path:path}}"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(path: str) -> str:
    """The label of the proxy route ``path`` (one of ``paths.PREFIXES``) is on."""
    if path.startswith(USERS_PREFIX):
        return USERS_TEMPLATE
    if path.startswith(CONNECTIONS_PREFIX):
        return CONNECTIONS_TEMPLATE
    return SDK_USERS_TEMPLATE if path.startswith(SDK_USERS_PREFIX) else SDK_CONNECTIONS_TEMPLATE


async def serve(
    proxy: Proxy,
    scope: Scope,
    receive: Receive,
    send: Send,
    caller: CallerHeaders,
    record: RequestRecord,
) -> None:
    """Answer one proxied call: the provider's response, or the gateway's error. One coroutine
    from the admission to the response (``docs/performance.md``)."""
    body = NO_BODY
    try:
        length = announced_length(caller, proxy.max_body) if caller.sends_body else None
        # The cached answers first, without a coroutine each.
        key, user = admission_key(scope, caller)
        admission, token_key = proxy.admissions.admitted(key, user) or await proxy.admissions.admit(
            key, user, scope, caller
        )
        token = proxy.tokens.cached(token_key) or await proxy.tokens.load(token_key)
        if time.time() >= token.refresh_from:
            token = await proxy.tokens.refresh_before_use(
                token, Spender.client(admission.principal.client_id)
            )
        if caller.sends_body:
            body = await read_body(length, receive, proxy.replay_buffer, proxy.max_body)
        query: bytes = scope["query_string"]
        if admission.fixed:
            url = admission.url + "?" + query.decode("latin-1") if query else admission.url
        else:
            url = target(admission, token.injection, query)
        request = UpstreamRequest(
            method=admission.method,
            url=url,
            caller=caller,
            request_id=record.request_id,
            body=body,
            repeatable=repeatable(admission.method, caller.idempotency_key),
        )
        deadline = proxy.forwarder.deadline()
        response = await proxy.forwarder.exchange(request, token.injection, deadline)
        if response.status == 401:
            spender = Spender.client(admission.principal.client_id)
            response = await _after_401(
                proxy, response, request, token, spender, deadline, admission, scope
            )
    except GatewayError as exc:
        await error_response(body.refusal or exc)(scope, receive, record.wrap(send))
        return
    except CallerGone:
        return
    await relay(response, scope["method"], receive if body.finished else None, send, record)


async def _after_401(
    proxy: Proxy,
    response: UpstreamResponse,
    request: UpstreamRequest,
    token: UserToken,
    spender: Spender,
    deadline: float,
    admission: Admission,
    scope: Scope,
) -> UpstreamResponse:
    """The token may have been revoked or rotated early: refresh once (unless another refresh
    already replaced it) and retry once; a body already streamed away gets the 401 back, and so
    does a token still in its cool-down (it was not replaced)."""
    try:
        replaced = await proxy.tokens.replace(token, spender)
    except BaseException:
        response.response.close()
        raise
    if replaced.version == token.version or not request.body.replayable:
        return response
    token = replaced
    response.response.close()
    if token.injection.query_pair is not None:  # the credential is in the URL
        request.url = target(admission, token.injection, scope["query_string"])
    return await proxy.forwarder.exchange(request, token.injection, deadline)


async def relay(
    response: UpstreamResponse,
    method: str,
    receive: Receive | None,
    send: Send,
    record: RequestRecord,
) -> None:
    """Send the response with ``record``'s headers, and finish ``record`` before its last byte;
    ``receive`` (once the caller's body is read) tells if the caller leaves."""
    raw = response.response
    headers = returned_headers(raw.headers)
    if response.complete:
        _with_length(headers, response, method)
    headers += record.headers
    record.status = response.status
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.complete:
            record.finish()
            await send({"type": "http.response.body", "body": response.head})
            return
        await _stream(response, receive, send, record)
    finally:
        raw.close()


def _with_length(
    headers: list[tuple[bytes, bytes]], response: UpstreamResponse, method: str
) -> None:
    """A body read whole goes back with its length (rather than chunked)."""
    if method == "HEAD" or response.status in (204, 304) or response.status < 200:
        return
    if header(headers, b"content-length") is None:
        headers.append((b"content-length", str(len(response.head)).encode()))


async def _disconnect(receive: Receive) -> None:
    """Returns when the caller goes away (its body, if any is left unread, is passed over)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stream(
    response: UpstreamResponse, receive: Receive | None, send: Send, record: RequestRecord
) -> None:
    gone = asyncio.ensure_future(_disconnect(receive)) if receive is not None else None
    try:
        if response.head:
            await send({"type": "http.response.body", "body": response.head, "more_body": True})
        async for chunk in response.response.rest():
            if gone is not None and gone.done():
                log.info("the caller went away mid-response; dropping the provider's connection")
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        record.finish()
        await send({"type": "http.response.body", "body": b""})
    except UpstreamFailure as exc:
        # The response has started: all that is left is to cut it short, so the caller sees it was.
        log.warning("the provider's response broke off mid-body (%s)", exc.code)
    finally:
        if gone is not None:
            gone.cancel()


class ProxyEndpoint:
    """The endpoint as Starlette's routing calls it, below ``RequestContext`` (which set the
    request id, and records the call); it keeps nothing itself (resources come from the
    lifespan)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        caller = CallerHeaders.read(scope["headers"])
        record = RequestRecord.passive(state["request_id"])
        await serve(state["proxy"], scope, receive, send, caller, record)


class ProxyRoute(Route):
    """One of the proxy's places in the URL map: everything below ``prefix``, matched by a prefix
    test, labelled ``template``."""

    def __init__(self, prefix: str, template: str) -> None:
        super().__init__(template, ProxyEndpoint(), methods=METHODS)
        self.prefix = prefix

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not route_path(scope["path"], scope).startswith(self.prefix):
            return Match.NONE, {}
        child_scope = {"endpoint": self.endpoint, "path_params": {}}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child_scope
        return Match.FULL, child_scope
