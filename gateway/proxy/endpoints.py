"""``/proxy/users/{user_id}/{path}``: forward a service's call with the user's access token.

A plain ASGI endpoint: on the hot path there is no Request or Response object, no database round
trip and no decryption once the call's admission and the user's token are cached. In order: admit
the call (``admission``: the service key, its rate limit, the path, the allow rules and the user
namespace), find the user's token in the client's space (cached), refresh the token if it is about
to expire, then exchange with the provider (``forward``) and relay the answer. A 401 from the
provider refreshes the token once and, when the body can be sent again, retries once; within the 401
cool-down (``TokenSource.replace``) the 401 is relayed as it is.

Requests normally arrive through the front door (``front``), which does the request id, the access
log and the metrics; ``ProxyRoute`` mounts the same endpoint in Starlette's routing for the rest.
"""

from __future__ import annotations

import time

from starlette.types import Receive, Scope, Send

from gateway.exceptions import GatewayError, error_response
from gateway.providers.spender import Spender
from gateway.proxy.admission import admission_key
from gateway.proxy.body import NO_BODY, CallerGone, announced_length, read_body
from gateway.proxy.forward import Answer, Outgoing
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.relay import relay
from gateway.proxy.retries import repeatable
from gateway.proxy.served import Served
from gateway.proxy.token_cache import UserToken
from gateway.resources import Resources


async def serve(
    res: Resources,
    scope: Scope,
    receive: Receive,
    send: Send,
    caller: CallerHeaders,
    served: Served,
) -> None:
    """Answer one proxied call: the provider's answer, or the gateway's error.

    One coroutine from the admission to the answer: every level of ``await`` between the server
    and the upstream client is passed through each time the call waits, and this is most calls.
    """
    proxy = res.proxy
    body = NO_BODY
    try:
        length = announced_length(caller, proxy.max_body) if caller.sends_body else None
        # The cached answers first, without a coroutine each (this is most calls).
        key = admission_key(scope, caller)
        admission = proxy.admissions.admitted(key) or await proxy.admissions.admit(
            key, scope, caller
        )
        call = admission.call
        token = proxy.tokens.cached(admission.token_key) or await proxy.tokens.load(
            admission.token_key
        )
        if time.time() >= token.refresh_from:
            token = await proxy.tokens.refresh_before_use(
                token, Spender.client(call.principal.client_id)
            )
        if caller.sends_body:
            body = await read_body(length, receive, proxy.replay_buffer, proxy.max_body)
        url = admission.url
        query: bytes = scope["query_string"]
        if query:
            url += "?" + query.decode("latin-1")
        outgoing = Outgoing(
            method=call.method,
            url=url,
            caller=caller,
            request_id=served.request_id,
            body=body,
            repeatable=repeatable(call.method, caller.idempotency_key),
        )
        deadline = proxy.forwarder.deadline()
        reply = await proxy.forwarder.exchange(outgoing, token.access_token, deadline)
        if reply.status == 401:
            spender = Spender.client(call.principal.client_id)
            reply = await _after_401(res, reply, outgoing, token, spender, deadline)
    except GatewayError as exc:
        await error_response(body.refusal or exc)(scope, receive, served.wrap(send))
        return
    except CallerGone:
        return
    await relay(reply, scope["method"], receive if body.finished else None, send, served)


async def _after_401(
    res: Resources,
    reply: Answer,
    outgoing: Outgoing,
    token: UserToken,
    spender: Spender,
    deadline: float,
) -> Answer:
    """The token may have been revoked or rotated early: refresh once (unless another refresh
    already replaced it) and retry once; a body already streamed away gets the 401 back, and so
    does a token still in its cool-down (it was not replaced)."""
    proxy = res.proxy
    try:
        replaced = await proxy.tokens.replace(token, spender)
    except BaseException:
        reply.response.close()
        raise
    if replaced.version == token.version or not outgoing.body.replayable:
        return reply
    token = replaced
    reply.response.close()
    return await proxy.forwarder.exchange(outgoing, token.access_token, deadline)


class ProxyEndpoint:
    """The endpoint as Starlette's routing calls it, below ``RequestContext`` (which set the
    request id, and counts and logs the call); it keeps nothing itself (resources come from the
    lifespan)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        caller = CallerHeaders.read(scope["headers"])
        await serve(
            state["resources"], scope, receive, send, caller, Served.ordinary(state["request_id"])
        )
