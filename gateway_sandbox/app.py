"""``create_sandbox_app``: the Contio emulator as one Starlette app, and its whole URL map.

Besides Contio's own routes it serves an API-key-protected API (``keyed_api``, under ``/keyed/v1``),
a client-credentials provider under ``/app/`` (``oauth.client_credentials``) and ``/_sandbox/``, a
control API that exists only in the sandbox
and needs no authentication (faults, counters, revocations, the code outbox; see ``harness.control``).

Middleware, outermost first: request ids; lost responses (outside idempotency, so a lost answer has
been stored for the retry); rate limits; idempotency keys; latency (inside idempotency, so a slow
request is "in flight"); the execution counter, right before the endpoints.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, Router

from gateway_sandbox import errors
from gateway_sandbox.admin.endpoints import AdminApi
from gateway_sandbox.admin.partner_app import PartnerAppApi
from gateway_sandbox.harness.control import ControlApi
from gateway_sandbox.harness.lost import LostResponseMiddleware
from gateway_sandbox.idempotency import IdempotencyMiddleware, Identify
from gateway_sandbox.instances import INSTANCES, InstanceApi
from gateway_sandbox.jwt import SigningKey
from gateway_sandbox.keyed_api import KeyedApi
from gateway_sandbox.middleware import ExecutionMiddleware, LatencyMiddleware, RequestIdMiddleware
from gateway_sandbox.oauth.authorize import AuthorizeEndpoints
from gateway_sandbox.oauth.client_credentials import APP, ClientCredentialsEndpoints
from gateway_sandbox.oauth.discovery import DiscoveryEndpoints
from gateway_sandbox.oauth.introspection import IntrospectionEndpoint
from gateway_sandbox.oauth.logout import LogoutEndpoint
from gateway_sandbox.oauth.revocation import RevocationEndpoint
from gateway_sandbox.oauth.token_endpoint import TokenEndpoint
from gateway_sandbox.oauth.userinfo import UserInfoEndpoint
from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.partner_auth.endpoints import PartnerAuthEndpoints
from gateway_sandbox.partner_auth.headless_consent import ConsentEndpoints
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.action_items import ActionItemEndpoints
from gateway_sandbox.user_api.agenda import AgendaEndpoints
from gateway_sandbox.user_api.calendar import CalendarEndpoints
from gateway_sandbox.user_api.catalogue import CatalogueEndpoints
from gateway_sandbox.user_api.meetings import MeetingEndpoints
from gateway_sandbox.user_api.participants import ParticipantEndpoints
from gateway_sandbox.user_api.profile import ProfileEndpoint
from gateway_sandbox.waf import RateLimitMiddleware

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
    routes: list[BaseRoute] = [*_oauth_routes(store, options, signing_key), *_user_routes(store)]
    routes += _admin_routes(store) + _control_routes(store)
    routes += KeyedApi(options).routes(CONTROL)
    if options.instance_url is not None:
        routes.append(Mount(INSTANCES, app=InstanceApi(Router(_user_routes(store)))))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(LostResponseMiddleware, faults=store.faults, counters=store.counters),
            Middleware(
                RateLimitMiddleware,
                limiter=store.rate_limiter,
                faults=store.faults,
                counters=store.counters,
            ),
            Middleware(
                IdempotencyMiddleware,
                keys=store.idempotency,
                identify=_key_owner(store),
                counters=store.counters,
            ),
            Middleware(LatencyMiddleware, faults=store.faults),
            Middleware(ExecutionMiddleware, counters=store.counters),
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


def _oauth_routes(
    store: SandboxStore, options: SandboxOptions, signing_key: SigningKey
) -> list[Route]:
    discovery = DiscoveryEndpoints(options, signing_key)
    authorize = AuthorizeEndpoints(store)
    consent = ConsentEndpoints(store)
    partner_auth = PartnerAuthEndpoints(store)
    token = TokenEndpoint(store, signing_key)
    userinfo = UserInfoEndpoint(store)
    app = ClientCredentialsEndpoints(store, token)
    return [
        Route("/.well-known/openid_configuration", discovery.openid_configuration),
        Route("/.well-known/openid-configuration", discovery.openid_configuration),
        Route("/.well-known/jwks.json", discovery.jwks),
        Route("/oauth2/health", discovery.health),
        Route("/oauth2/authorize", authorize.authorize, methods=["GET"]),
        Route("/oauth2/authorize", consent.authorize, methods=["POST"]),
        Route("/oauth2/consent", authorize.consent, methods=["POST"]),
        Route("/oauth2/check-consent", consent.check_consent, methods=["POST"]),
        Route("/oauth2/token", token.token, methods=["POST"]),
        Route("/oauth2/revoke", RevocationEndpoint(store).revoke, methods=["POST"]),
        Route("/oauth2/introspect", IntrospectionEndpoint(store).introspect, methods=["POST"]),
        Route("/oauth2/userInfo", userinfo.userinfo, methods=["GET", "POST"]),
        Route("/oauth2/logout", LogoutEndpoint(store, signing_key).logout, methods=["GET"]),
        Route("/auth/initiate", partner_auth.initiate, methods=["POST"]),
        Route("/auth/verify", partner_auth.verify, methods=["POST"]),
        Route(f"{APP}/oauth2/token", app.token, methods=["POST"]),
        Route(f"{APP}/oauth2/revoke", app.revoke, methods=["POST"]),
        Route(f"{APP}/v1/whoami", app.whoami),
    ]


def _user_routes(store: SandboxStore) -> list[Route]:
    meetings = MeetingEndpoints(store)
    participants = ParticipantEndpoints(store)
    agenda = AgendaEndpoints(store)
    action_items = ActionItemEndpoints(store)
    calendar = CalendarEndpoints(store)
    meeting = f"{USER_API}/meetings/{{meeting_id}}"
    action_item = f"{USER_API}/action-items/{{action_item_id}}"
    event = f"{USER_API}/calendar/events/{{calendar_event_id}}"
    return [
        Route(f"{USER_API}/profile", ProfileEndpoint(store).profile),
        Route(f"{USER_API}/meetings", meetings.meetings, methods=["GET", "POST"]),
        Route(meeting, meetings.meeting, methods=["GET", "PATCH"]),
        Route(f"{meeting}/participants", participants.participants, methods=["GET", "POST"]),
        Route(
            f"{meeting}/participants/{{participant_id}}", participants.remove, methods=["DELETE"]
        ),
        Route(f"{meeting}/agenda-items", agenda.agenda_items, methods=["GET", "POST"]),
        Route(
            f"{meeting}/agenda-items/{{item_id}}",
            agenda.agenda_item,
            methods=["PUT", "PATCH", "DELETE"],
        ),
        Route(f"{USER_API}/action-items", action_items.action_items, methods=["GET", "POST"]),
        Route(action_item, action_items.action_item, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route(f"{USER_API}/calendar/events", calendar.calendar_events),
        Route(event, calendar.calendar_event),
        Route(f"{event}/meeting", calendar.create_meeting, methods=["POST"]),
        *_catalogue_routes(store),
    ]


def _catalogue_routes(store: SandboxStore) -> list[Route]:
    """The SDK's reads beyond the reference (``user_api.catalogue``)."""
    catalogue = CatalogueEndpoints(store)
    meeting = f"{USER_API}/meetings/{{meeting_id}}"
    session = f"{USER_API}/sessions/{{session_id}}"
    return [
        Route(f"{USER_API}/meeting-templates", catalogue.templates),
        Route(f"{USER_API}/meeting-templates/{{template_id}}", catalogue.template),
        Route(f"{USER_API}/toolkits", catalogue.toolkits),
        Route(f"{USER_API}/toolkits/{{toolkit_id}}", catalogue.toolkit),
        Route(f"{USER_API}/workflow-runs", catalogue.workflow_runs),
        Route(f"{USER_API}/workflow-runs/{{workflow_run_id}}", catalogue.workflow_run),
        Route(f"{USER_API}/sessions", catalogue.chat_sessions),
        Route(session, catalogue.chat_session),
        Route(f"{session}/turns/{{turn_id}}", catalogue.chat_turn),
        Route(f"{meeting}/next-steps", catalogue.next_steps),
        Route(f"{meeting}/action-buttons", catalogue.action_buttons),
        Route(f"{USER_API}/next-step-results/{{result_id}}", catalogue.next_step_result),
        Route(f"{meeting}/transcript/export", catalogue.transcript),
        Route(f"{meeting}/context", catalogue.context_documents),
        Route(f"{meeting}/context/{{document_id}}", catalogue.context_document),
        Route(f"{meeting}/context/{{document_id}}/content", catalogue.context_content),
    ]


def _admin_routes(store: SandboxStore) -> list[Route]:
    admin = AdminApi(store)
    partner_app = PartnerAppApi(store)
    delivery = f"{ADMIN_API}/webhook-deliveries/{{delivery_id}}"
    routes = [
        Route(f"{ADMIN_API}/connections", admin.connections),
        Route(
            f"{ADMIN_API}/connections/{{connection_id}}",
            admin.connection,
            methods=["GET", "DELETE"],
        ),
        Route(f"{ADMIN_API}/workspaces", admin.workspaces),
        Route(f"{ADMIN_API}/app", partner_app.app),
        Route(f"{ADMIN_API}/webhook-deliveries", admin.deliveries),
        Route(delivery, admin.delivery),
        Route(f"{delivery}/retry", admin.retry_delivery, methods=["POST"]),
    ]
    for prefix in (ADMIN_API, f"{ADMIN_API}/app"):  # the spec's form, and the SDK's
        routes += [
            Route(
                f"{prefix}/webhook-filter", partner_app.webhook_filter, methods=["PUT", "DELETE"]
            ),
            Route(f"{prefix}/webhook-status", partner_app.webhook_status, methods=["PUT"]),
        ]
    return routes


def _control_routes(store: SandboxStore) -> list[Route]:
    control = ControlApi(store)
    return [
        Route(f"{CONTROL}/faults", control.faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL}/stats", control.stats),
        Route(f"{CONTROL}/stats/reset", control.reset_stats, methods=["POST"]),
        Route(f"{CONTROL}/executions", control.executions),
        Route(f"{CONTROL}/connections/revoke", control.revoke_connection, methods=["POST"]),
        Route(f"{CONTROL}/outbox", control.outbox, methods=["GET", "DELETE"]),
        Route(f"{CONTROL}/grants", control.issue_grants, methods=["POST"]),
        Route(f"{CONTROL}/instance", control.move_instance, methods=["POST"]),
        Route(f"{CONTROL}/events", control.events, methods=["GET", "POST"]),
        Route(f"{CONTROL}/groups", control.groups, methods=["POST"]),
        Route(f"{CONTROL}/sign-ins/age", control.age_sign_ins, methods=["POST"]),
    ]


def _key_owner(store: SandboxStore) -> Identify:
    """Whose ``Idempotency-Key`` a request carries: its user (user API) or the partner (admin)."""

    def identify(path: str, headers: Headers) -> str | None:
        if path.startswith(f"{USER_API}/"):
            scheme, _, token = headers.get("authorization", "").partition(" ")
            live = store.find_live(token.strip()) if scheme.lower() == "bearer" else None
            if live is not None and live.token.kind == "access_token":
                return f"user:{live.user.id}"
        elif path.startswith(f"{ADMIN_API}/"):
            key = headers.get("x-api-key", "").encode()
            if hmac.compare_digest(key, store.options.admin_api_key.encode()):
                return "partner"
        return None

    return identify
