"""``create_sandbox_app``: the Contio emulator as one Starlette app, and its whole URL map.

Besides Contio's own routes it serves ``/_sandbox/``, a control API that exists only in the sandbox
and needs no authentication (faults, counters, revocations; see ``control``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from gateway.sandbox import errors
from gateway.sandbox.admin import AdminApi
from gateway.sandbox.authorize import AuthorizeEndpoints
from gateway.sandbox.control import ControlApi
from gateway.sandbox.discovery import DiscoveryEndpoints
from gateway.sandbox.introspection import IntrospectionEndpoint
from gateway.sandbox.jwt import SigningKey
from gateway.sandbox.middleware import LatencyMiddleware, RequestIdMiddleware
from gateway.sandbox.options import SandboxOptions
from gateway.sandbox.revocation import RevocationEndpoint
from gateway.sandbox.store import SandboxStore
from gateway.sandbox.token import TokenEndpoint
from gateway.sandbox.user_api import UserApi
from gateway.sandbox.userinfo import UserInfoEndpoint

USER_API = "/v1/partner/user"
ADMIN_API = "/v1/partner/admin"
CONTROL = "/_sandbox"


def create_sandbox_app(
    options: SandboxOptions | None = None, *, signing_key: SigningKey | None = None
) -> Starlette:
    """A fresh sandbox with its own state; ``app.state.sandbox`` is the store.

    The ID-token signing key is generated here unless one is given (tests share one key to save
    the time RSA key generation takes).
    """
    options = options or SandboxOptions()
    store = SandboxStore(options)
    signing_key = signing_key or SigningKey.generate()
    discovery = DiscoveryEndpoints(options, signing_key)
    authorize = AuthorizeEndpoints(store)
    token = TokenEndpoint(store, signing_key)
    revocation = RevocationEndpoint(store)
    introspection = IntrospectionEndpoint(store)
    userinfo = UserInfoEndpoint(store)
    user_api = UserApi(store)
    admin = AdminApi(store)
    control = ControlApi(store)
    routes = [
        Route("/.well-known/openid_configuration", discovery.openid_configuration),
        Route("/.well-known/openid-configuration", discovery.openid_configuration),
        Route("/.well-known/jwks.json", discovery.jwks),
        Route("/oauth2/health", discovery.health),
        Route("/oauth2/authorize", authorize.authorize, methods=["GET"]),
        Route("/oauth2/consent", authorize.consent, methods=["POST"]),
        Route("/oauth2/token", token.token, methods=["POST"]),
        Route("/oauth2/revoke", revocation.revoke, methods=["POST"]),
        Route("/oauth2/introspect", introspection.introspect, methods=["POST"]),
        Route("/oauth2/userInfo", userinfo.userinfo, methods=["GET", "POST"]),
        Route(f"{USER_API}/profile", user_api.profile),
        Route(f"{USER_API}/meetings", user_api.meetings),
        Route(f"{USER_API}/meetings/{{meeting_id}}", user_api.meeting),
        Route(f"{USER_API}/action-items", user_api.action_items),
        Route(f"{USER_API}/calendar/events", user_api.calendar_events),
        Route(f"{USER_API}/calendar/events/{{calendar_event_id}}", user_api.calendar_event),
        Route(f"{ADMIN_API}/connections", admin.connections),
        Route(
            f"{ADMIN_API}/connections/{{connection_id}}",
            admin.connection,
            methods=["GET", "DELETE"],
        ),
        Route(f"{ADMIN_API}/workspaces", admin.workspaces),
        Route(f"{ADMIN_API}/webhook-deliveries", admin.deliveries),
        Route(f"{ADMIN_API}/webhook-deliveries/{{delivery_id}}", admin.delivery),
        Route(
            f"{ADMIN_API}/webhook-deliveries/{{delivery_id}}/retry",
            admin.retry_delivery,
            methods=["POST"],
        ),
        Route(f"{CONTROL}/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL}/stats", control.stats),
        Route(f"{CONTROL}/stats/reset", control.reset_stats, methods=["POST"]),
        Route(f"{CONTROL}/connections/revoke", control.revoke_connection, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(LatencyMiddleware, faults=store.faults),
        ],
        lifespan=lifespan,
        exception_handlers={
            errors.OAuthError: errors.render_oauth_error,
            errors.ApiError: errors.render_api_error,
            HTTPException: errors.render_http_exception,
            Exception: errors.render_unexpected,
        },
    )
    app.state.sandbox = store
    return app
