"""``create_app``: the gateway's Starlette application; the lifespan builds and disposes resources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway import composition
from gateway.connect.endpoints import handle_connect_failure, render_flow_error
from gateway.connect.flow_errors import ConnectFailure
from gateway.exceptions import GatewayError, error_response, handle_gateway_error, plain_error
from gateway.failures import DATABASE_ERRORS, classify
from gateway.kit.crypto import DecryptionError
from gateway.kit.middleware import Concern, RecordBatch, RequestContext
from gateway.kit.migrations import head_revision
from gateway.kit.request_body import BodyLimit
from gateway.kit.tracing import Tracing, tracing_on
from gateway.metrics import Metrics
from gateway.metrics.cluster import ClusterReads
from gateway.metrics.siblings import Siblings
from gateway.providers.registry import credential_params
from gateway.proxy.assembly import Proxy
from gateway.proxy.front import ProxyFront
from gateway.proxy.paths import PREFIXES as PROXY_PREFIXES
from gateway.public_port import PublicPort, PublicPortGuard
from gateway.resources import Resources
from gateway.routes import routes
from gateway.settings import Settings
from gateway.worker import background_jobs, reload_providers_on_request

HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = plain_error(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def handle_failure(request: Request, exc: Exception) -> Response:
    """An error no other handler took: 503 when the database is unavailable, else 500 (a bug); the
    connect flow's pages answer it as they answer their own failures."""
    error = classify(exc, f"{request.method} {request.url.path}")
    flow_error = render_flow_error(request, error)
    return flow_error if flow_error is not None else error_response(error)


def concerns(settings: Settings, batch: RecordBatch, public_port: int | None) -> list[Concern]:
    """The cross-cutting concerns, in the order every request meets them (outermost first): the
    app's middleware stack is built from this list, and the proxy's front door meets the same
    concerns in the same order, by the same code, or leaves the request to the stack."""
    public = PublicPort(public_port)
    return [
        # A span per request while tracing is on; traced calls take the ordinary way.
        Concern("tracing", Middleware(Tracing), steps_aside=tracing_on),
        # The request id, the request metrics and the access log: the front door makes the same
        # RequestRecord, counted and logged in the same batch.
        Concern("request", Middleware(RequestContext, batch=batch), steps_aside=None),
        # Only the public routes answer on the public port; the proxy is a 404 there.
        Concern(
            "public port",
            Middleware(PublicPortGuard, public_port=public),
            steps_aside=public.arrived_on,
        ),
        # Request bodies capped; the proxy caps its own (it streams what it does not hold), with
        # the same test of a declared length.
        Concern(
            "body limit",
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes, exempt=PROXY_PREFIXES),
            steps_aside=None,
        ),
        # Then the failures: 503 for an unavailable database, 500 for a bug. Starlette's exception
        # handling (the handlers given below) and the front door classify and render them by the
        # same code (``gateway.failures``).
    ]


class Gateway(Starlette):
    """The Starlette app with the proxy's front door ahead of its middleware stack (``front``)."""

    def __init__(self, front: ProxyFront, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.front = front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front.takes(scope):
            await self.front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    database_url: URL,
    *,
    run_refresher: bool = False,
    public_port: int | None = None,
    siblings: Siblings | None = None,
) -> Starlette:
    """The gateway; with ``run_refresher`` the refresher loop also runs in this process, with
    ``public_port`` only the browser-facing routes answer on that port, and with ``siblings`` it is
    one of the machine's serving processes (``gateway serve --workers``): each client's rate limit
    is shared among them and a scrape shows their sum."""
    keys = composition.key_ring(settings)
    metrics = Metrics()
    batch = RecordBatch(metrics.requests, credential_params(settings))
    declared = concerns(settings, batch, public_port)
    front = ProxyFront(batch, declared)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Resources | Proxy]]:
        async with composition.core(
            settings, database_url, keys, pool_size=settings.database_pool_size, metrics=metrics
        ) as core:
            proxy = core.proxy(processes=siblings.slot.count if siblings is not None else 1)
            stop_hangup = reload_providers_on_request(core)
            stop = asyncio.Event()
            # The process's one change feed: the proxy's caches serve only while it listens, and
            # the providers are reloaded on the requests it hears of.
            feed = asyncio.create_task(core.feed.run(stop))
            # The proxy's upstream deadlines are kept by this.
            proxy_jobs = asyncio.create_task(proxy.run(stop))
            background = asyncio.create_task(background_jobs(core, stop)) if run_refresher else None
            scrapes = (
                asyncio.create_task(siblings.serve(metrics.registry, stop))
                if siblings is not None
                else None
            )
            try:
                yield {
                    "resources": Resources(
                        settings=settings,
                        db=core.db,
                        keys=keys,
                        http=core.http,
                        providers=core.providers,
                        refresher=core.refresher,
                        metrics=metrics,
                        cluster=ClusterReads(settings.metrics_cluster_seconds),
                        feed=core.feed,
                        schema_head=head_revision(),
                        console_idp=core.console_identity_provider(),
                        siblings=siblings,
                    ),
                    # The proxy's own state, which only its endpoint and front door reach.
                    "proxy": proxy,
                }
            finally:
                batch.flush()  # the last requests' counts and lines, before anything can fail
                stop.set()
                stop_hangup()
                if background is not None:
                    await background
                if scrapes is not None:
                    await scrapes
                await proxy_jobs
                await feed
                await proxy.aclose()

    return Gateway(
        front,
        routes=routes,
        middleware=[concern.middleware for concern in declared],
        exception_handlers={
            ConnectFailure: handle_connect_failure,
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            **dict.fromkeys((*DATABASE_ERRORS, DecryptionError), handle_failure),
            Exception: handle_failure,
        },
        lifespan=lifespan,
    )
