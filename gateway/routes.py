"""The whole URL map."""

from __future__ import annotations

from starlette.routing import Route

from gateway import health, openapi
from gateway.connect import endpoints as connect
from gateway.events import inbound as events_inbound
from gateway.metrics import endpoint as metrics
from gateway.proxy import endpoints as proxy

routes = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/metrics", metrics.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.document, methods=["GET"]),
    Route("/v1/connect-sessions", connect.create_connect_session, methods=["POST"]),
    Route("/connect", connect.start_connect, methods=["GET"]),
    Route("/oauth/callback", connect.callback, methods=["GET"]),
    Route("/proxy/users/{user_id}/{path:path}", proxy.proxy, methods=["GET"]),
    Route("/webhooks/contio", events_inbound.contio_webhook, methods=["POST"]),
]
