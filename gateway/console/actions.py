"""What an operator does to a connection: revoke it (after a confirmation step) or refresh it now.

Both go through the admin API's services (the one ``Revoker``, the one ``Refresher``) as the signed-in
operator, and answer with the connection's page, its outcome on top.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.audit import store as audit
from gateway.connections import queries
from gateway.connections.endpoints import revoker
from gateway.connections.errors import ConnectionNotFound
from gateway.connections.refreshing import refresh_now
from gateway.console import views
from gateway.console.connections import Outcome, connection_page
from gateway.console.guard import Operator, operator_page
from gateway.console.render import page
from gateway.exceptions import GatewayError
from gateway.kit.clock import rfc3339, utcnow
from gateway.providers.spender import OPERATOR
from gateway.resources import resources

UPSTREAM = {
    "done": "The provider confirmed the revocation.",
    "pending": (
        "The provider could not be reached; the gateway keeps retrying the revocation there "
        "in the background."
    ),
}


@operator_page
async def confirm_revoke(request: Request, operator: Operator) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    async with resources(request).db.transaction() as session:
        connection = await queries.get(session, connection_id)
    return page("revoke.html", operator=operator, c=views.connection(connection, utcnow()))


@operator_page
async def revoke(request: Request, operator: Operator) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    revocation = await revoker(resources(request)).revoke(connection_id, actor=operator.actor)
    outcome = Outcome(
        ok=True,
        action="revoked",
        message=f"Connection revoked and its tokens erased. {UPSTREAM[revocation.upstream]}",
        upstream=revocation.upstream,
    )
    return await connection_page(request, operator, connection_id, outcome)


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
