"""What an operator does to a connection: revoke it (after a confirmation step), refresh it now,
or verify its credential with the provider.

Each goes through the admin API's services (the one ``Revoker``, the one ``Refresher``, the
``Verifier``) as the signed-in operator, and shows the connection's page with the outcome on top: a
revocation through a redirect to it (POST-redirect-GET), a refresh or a verification in the answer
itself (a refusal, with the provider's reason, is an outcome, not an error page).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.audit import store as audit
from gateway.connections import external_ids, ownership, queries
from gateway.connections.endpoints import revoker, verifier
from gateway.connections.errors import ConnectionNotFound
from gateway.connections.on_demand import refresh_now
from gateway.connections.sharing import RevocationPlan
from gateway.connections.verification import METHOD_TEXT
from gateway.connections.views import UPSTREAM_METHOD_TEXT
from gateway.console import views
from gateway.console.connections import connection_page
from gateway.console.guard import Operator, operator_page
from gateway.console.outcomes import Outcome, refused, revoked_url
from gateway.console.render import page, see_other
from gateway.exceptions import GatewayError
from gateway.kit.clock import rfc3339, utcnow
from gateway.providers.spender import OPERATOR
from gateway.resources import resources


@operator_page
async def confirm_revoke(request: Request, operator: Operator) -> Response:
    """The confirmation step: what revoking would do at the provider and to the other connections
    of the same provider account, before it is done."""
    connection_id = queries.parse_id(request.path_params["connection_id"])
    plan = await revoker(resources(request)).preview(connection_id)
    async with resources(request).db.transaction() as session:
        owner = await ownership.owner_name(session, plan.connection)
        ids = await external_ids.of_one(session, plan.connection.id)
    return page(
        "revoke.html",
        operator=operator,
        c=views.connection(plan.connection, utcnow(), owner, ids),
        upstream_method=plan.upstream,
        upstream_text=UPSTREAM_METHOD_TEXT[plan.upstream],
        sharing=_sharing(plan),
    )


@operator_page
async def revoke(request: Request, operator: Operator) -> Response:
    """Revoke, then answer with a redirect to the connection's page showing the outcome (a reload
    of that page does not revoke again)."""
    connection_id = queries.parse_id(request.path_params["connection_id"])
    revocation = await revoker(resources(request)).revoke(connection_id, actor=operator.actor)
    return see_other(revoked_url(connection_id, revocation))


def _sharing(plan: RevocationPlan) -> list[dict[str, object]]:
    return [
        {
            "id": str(other.id),
            "user_id": other.user_id,
            "status": other.status.value,
            "ended": other in plan.ended,
        }
        for other in plan.sharing
    ]


@operator_page
async def refresh(request: Request, operator: Operator) -> Response:
    """Refresh now; a refusal (revoked, needs re-auth, provider down) is an outcome, not an error
    page. Audited, with its outcome, as the operator's."""
    res = resources(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    try:
        connection = await refresh_now(res.db, res.refresher, connection_id, OPERATOR)
    except ConnectionNotFound:
        raise
    except GatewayError as exc:
        outcome = Outcome(False, "refresh_failed", f"Refresh failed ({exc.code}): {exc.message}")
        result = exc.code
    else:
        expires = rfc3339(connection.expires_at) or "an unknown time"
        outcome = Outcome(True, "refreshed", f"Refreshed: the access token expires at {expires}.")
        result = "refreshed"
    async with res.db.transaction() as session:
        audit.record(
            session,
            actor=operator.actor,
            action="connection.refresh_requested",
            connection_id=connection_id,
            details={"outcome": result},
        )
    return await connection_page(request, operator, connection_id, outcome)


@operator_page
async def verify(request: Request, operator: Operator) -> Response:
    """Ask the provider whether it takes the connection's credential (``verification``; audited
    there as the operator's)."""
    connection_id = queries.parse_id(request.path_params["connection_id"])
    try:
        verified = await verifier(resources(request)).verify(
            connection_id, actor=operator.acting, audit_actor=operator.actor
        )
    except ConnectionNotFound:
        raise
    except GatewayError as exc:
        outcome = refused("verify_failed", "Not verified", exc)
    else:
        outcome = Outcome(True, "verified", f"Verified: {METHOD_TEXT[verified.method]}.")
    return await connection_page(request, operator, connection_id, outcome)
