"""``create_app``: the gateway's Starlette application; the lifespan builds and disposes resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import sqlalchemy.exc
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from gateway.connect.endpoints import ConnectFailure, handle_connect_failure
from gateway.exceptions import GatewayError, handle_gateway_error, plain_error
from gateway.kit.db import Database
from gateway.kit.middleware import RequestContext
from gateway.kit.migrations import head_revision
from gateway.listeners import PublicListener
from gateway.metrics import Metrics
from gateway.metrics.http import Observe
from gateway.proxy.runtime import ProxyRuntime
from gateway.resources import Resources
from gateway.routes import routes
from gateway.settings import Settings
from gateway.tokens.services import build_refresher, key_ring, provider_http
from gateway.worker import background_jobs

log = logging.getLogger(__name__)

HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = plain_error(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


# What the database (or its pool) raises when it cannot be reached or is full: the gateway cannot
# serve right now, which is a 503 for the caller to retry, not a bug.
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    ConnectionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.CannotConnectNowError,
)


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    log.error(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    response = plain_error(
        503, "database_unavailable", "The gateway cannot reach its database; try again shortly."
    )
    response.headers["Retry-After"] = "1"
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return plain_error(500, "internal_error", "The gateway failed unexpectedly; this is a bug.")


def create_app(
    settings: Settings,
    database_url: URL,
    *,
    run_refresher: bool = False,
    public_port: int | None = None,
) -> Starlette:
    """The gateway; with ``run_refresher`` the refresher loop also runs in this process, and with
    ``public_port`` only the browser-facing routes answer on that port."""
    keys = key_ring(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Resources]]:
        db = Database(database_url, pool_size=settings.database_pool_size)
        http = provider_http(settings)
        refresher = build_refresher(settings, db, keys, http, metrics)
        providers = refresher.providers
        proxy = ProxyRuntime.build(settings, db, keys, refresher)
        stop = asyncio.Event()
        # The proxy's caches serve only while this listens for their invalidations.
        proxy_listener = asyncio.create_task(proxy.run(stop))
        background = (
            asyncio.create_task(background_jobs(settings, db, http, refresher, stop))
            if run_refresher
            else None
        )
        try:
            yield {
                "resources": Resources(
                    settings=settings,
                    db=db,
                    keys=keys,
                    http=http,
                    providers=providers,
                    proxy=proxy,
                    refresher=refresher,
                    metrics=metrics,
                    schema_head=head_revision(),
                )
            }
        finally:
            stop.set()
            if background is not None:
                await background
            await refresher.release_all()
            await proxy_listener
            await proxy.aclose()
            await http.aclose()
            await db.dispose()

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(Observe, metrics=metrics),
            Middleware(RequestContext),
            Middleware(PublicListener, public_port=public_port),
        ],
        exception_handlers={
            ConnectFailure: handle_connect_failure,
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            **dict.fromkeys(DATABASE_UNAVAILABLE, handle_database_unavailable),
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
