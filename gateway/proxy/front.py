"""The proxy's front door: ``/proxy/users/...`` and ``/proxy/connections/...`` (and the SDK's base
paths, ``/sdk/contio/...``) answered ahead of Starlette's middleware stack.

Every other route passes through the concerns ``create_app`` lists, as Starlette middleware, then
the router and Starlette's exception handling. The proxy's calls meet the same concerns here, in
the same order and through the same implementations: the request's id and its ``RequestRecord``
(metrics and the access-log line, in the shared ``RecordBatch``), 503 when the database is
unavailable and 500 for a bug (``gateway.failures``), and the body cap (the proxy's own, tested
like every other: ``kit.request_body.capped_length``). Why the proxy has a front door at all:
``docs/performance.md``.

It steps aside, and the request takes the ordinary way through ``ProxyRoute``, whenever the
ordinary way would answer differently: when a concern says so (``Concern.steps_aside``: with
tracing on, on the public port), for a method the proxy does not serve (405) and when the app is
mounted below a root path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.types import Receive, Scope, Send

from gateway.failures import failure_response
from gateway.kit import logs
from gateway.kit.middleware import Concern, RecordBatch, RequestRecord, accepted_request_id
from gateway.proxy.endpoints import METHODS, USERS_TEMPLATE, route_template, serve
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.paths import PREFIXES, USERS_PREFIX


class ProxyFront:
    def __init__(self, batch: RecordBatch, concerns: Sequence[Concern]) -> None:
        self.batch = batch
        self._asides: tuple[Callable[[Scope], bool], ...] = tuple(
            concern.steps_aside for concern in concerns if concern.steps_aside is not None
        )
        self._aside_count = len(self._asides)

    def takes(self, scope: Scope) -> bool:
        """Whether this request is the front door's (else it goes the ordinary way)."""
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            return False
        if scope["method"] not in METHODS or scope.get("root_path"):
            return False
        # Indexed rather than iterated: an iterator would be one more object made per request.
        asides = self._asides
        index = self._aside_count
        while index:
            index -= 1
            if asides[index](scope):
                return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = CallerHeaders.read(scope["headers"])
        request_id = accepted_request_id(caller.request_id)
        path: str = scope["path"]
        template = USERS_TEMPLATE if path.startswith(USERS_PREFIX) else route_template(path)
        record = RequestRecord(request_id, scope, template, self.batch)
        bound = logs.request_id.set(request_id)
        try:
            await serve(scope["state"]["proxy"], scope, receive, send, caller, record)
        except Exception as exc:
            if record.status:
                raise
            response = failure_response(exc, f"{scope['method']} {template}")
            await response(scope, receive, record.wrap(send))
        finally:
            record.finish()
            logs.request_id.reset(bound)
