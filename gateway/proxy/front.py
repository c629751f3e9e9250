"""The proxy's front door: ``/proxy/users/...`` answered ahead of Starlette's middleware stack.

Every other route passes through ``RequestContext``, ``Observe``, the public-listener check, the
router and Starlette's exception handling. The proxy carries most of the traffic, so its requests
get the same service here, done once: the request id (accepted or made, returned), the metrics
and one access-log line (counted and written in batches: ``ledger``), 503 when the database is
unavailable and 500 for a bug. That halves what the gateway spends per proxied call (``make
bench``; the README has the figures).

It steps aside, and the request takes the ordinary way through ``ProxyRoute``, whenever the
ordinary way would answer differently: with tracing on (spans come from ``Observe``), on the
public listener (where the proxy is a 404), for a method the proxy does not serve (405) and when
the app is mounted below a root path.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from gateway.failures import failure_response
from gateway.kit import logs
from gateway.kit.middleware import accepted_request_id
from gateway.kit.tracing import tracing_on
from gateway.metrics import Metrics
from gateway.proxy.endpoints import serve
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.ledger import Ledger
from gateway.proxy.paths import PREFIX
from gateway.proxy.route import METHODS
from gateway.proxy.served import Served
from gateway.public_port import on_public_listener


class ProxyFront:
    def __init__(self, metrics: Metrics, public_port: int | None) -> None:
        self.ledger = Ledger(metrics.requests)
        self._public_port = public_port

    def takes(self, scope: Scope) -> bool:
        """Whether this request is the front door's (else it goes the ordinary way)."""
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            return False
        if scope["method"] not in METHODS or scope.get("root_path") or tracing_on():
            return False
        return not on_public_listener(scope, self._public_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = CallerHeaders.read(scope["headers"])
        request_id = accepted_request_id(caller.request_id)
        served = Served(
            request_id, scope["method"], scope["path"], scope["query_string"], self.ledger
        )
        bound = logs.request_id.set(request_id)
        try:
            await serve(scope["state"]["resources"], scope, receive, send, caller, served)
        except Exception as exc:
            if served.status:
                raise
            response = failure_response(exc, f"{scope['method']} {PREFIX}...")
            await response(scope, receive, served.wrap(send))
        finally:
            served.finish()
            logs.request_id.reset(bound)
