"""The connections list (search by user id, filter by status and provider, page) and a
connection's page."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from gateway.connections import external_ids, ownership, queries
from gateway.connections.revocation import Revocation
from gateway.connections.views import UPSTREAM_METHOD_TEXT
from gateway.console import history, search, views
from gateway.console.guard import Operator, operator_page
from gateway.console.render import page
from gateway.exceptions import BadRequest
from gateway.kit import query
from gateway.kit.clock import utcnow
from gateway.kit.pagination import DEFAULT_LIMIT
from gateway.models import ConnectionStatus
from gateway.resources import resources
from gateway.tokens import unreadable

LIST = "/console/connections"
PARAMETERS = ("user", "match", "provider", "status", "cursor")


@dataclass(frozen=True)
class Outcome:
    """What an action just did, shown at the top of the connection's page."""

    ok: bool
    action: str
    message: str
    upstream: str | None = None


def parse_search(params: QueryParams) -> search.Search:
    """The search of a submitted form, where an empty field means no filter."""
    given = QueryParams({name: value.strip() for name, value in params.items() if value.strip()})
    query.only(given, PARAMETERS)
    match = query.choice(given, "match", search.MATCHES)
    status = query.choice(given, "status", queries.STATUSES)
    return search.Search(
        user=query.text(given, "user", max_length=255),
        match="exact" if match == "exact" else "prefix",
        provider=query.text(given, "provider", max_length=64),
        status=ConnectionStatus(status) if status is not None else None,
    )


def search_url(found: search.Search, cursor: str | None = None) -> str:
    params = {
        "user": found.user or "",
        "match": found.match,
        "status": found.status.value if found.status else "",
        "provider": found.provider or "",
        **({"cursor": cursor} if cursor else {}),
    }
    return f"{LIST}?{urlencode({k: v for k, v in params.items() if v})}"


@operator_page
async def list_connections(request: Request, operator: Operator) -> Response:
    res = resources(request)
    found = parse_search(request.query_params)
    cursor = request.query_params.get("cursor") or None
    async with res.db.transaction() as session:
        results = await search.page(session, found, cursor=cursor, limit=DEFAULT_LIMIT)
        unreadable_count = await unreadable.count(session)
        owners = await ownership.owner_names(session, results.items)
        ids = await external_ids.of(session, (c.id for c in results.items))
    now = utcnow()
    return page(
        "connections.html",
        operator=operator,
        search=found,
        rows=[
            views.connection(c, now, ownership.owner_label(c, owners), ids.get(c.id, []))
            for c in results.items
        ],
        statuses=queries.STATUSES,
        unreadable=unreadable_count,
        providers=sorted({*res.providers.names, *([found.provider] if found.provider else [])}),
        next_url=search_url(found, results.next_cursor) if results.next_cursor else None,
        first_url=search_url(found) if cursor else None,
    )


@operator_page
async def show_connection(request: Request, operator: Operator) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    return await connection_page(
        request, operator, connection_id, revoked_outcome(request.query_params)
    )


# A revocation answers with a redirect to the connection's page (so a reload does not revoke again),
# its outcome in these parameters: the upstream state, the upstream method, how many other
# connections of the account stay connected, and the code of why the provider has not revoked it.
REVOKED_PARAMETERS = ("revoked", "method", "kept", "reason")
UPSTREAM_STATES = ("done", "pending", "not_possible")
REASON = re.compile(r"[a-z_]{1,64}")
UPSTREAM = {
    "done": "The provider confirmed the revocation.",
    "not_possible": (
        "The provider was not asked: the tokens do not open with the gateway's keys "
        "(credentials_unreadable). Revoke the grant in the provider's console."
    ),
}
PENDING = {
    None: "The revocation at the provider is still pending; the gateway keeps retrying it there "
    "in the background.",
    "provider_unavailable": "The provider could not be reached; the gateway keeps retrying the "
    "revocation there in the background.",
    "provider_not_configured": "The provider is not configured in this gateway, so it was not "
    "asked (provider_not_configured); the gateway retries once it is configured.",
}


def revoked_url(connection_id: uuid.UUID, revocation: Revocation) -> str:
    plan = revocation.plan
    params = {
        "revoked": revocation.upstream,
        "method": plan.upstream,
        "kept": str(sum(other not in plan.ended for other in plan.sharing)),
    }
    if revocation.upstream_error is not None:
        params["reason"] = revocation.upstream_error.code
    return f"{LIST}/{connection_id}?{urlencode(params)}"


def revoked_outcome(params: QueryParams) -> Outcome | None:
    """The outcome a revocation's redirect carries, if it does."""
    query.only(params, REVOKED_PARAMETERS)
    upstream = query.choice(params, "revoked", UPSTREAM_STATES)
    if upstream is None:
        return None
    method = query.choice(params, "method", tuple(UPSTREAM_METHOD_TEXT)) or "none"
    kept = params.get("kept", "0")
    reason = params.get("reason")
    if not kept.isdigit() or len(kept) > 6 or (reason and not REASON.fullmatch(reason)):
        raise BadRequest("a malformed revocation outcome", code="invalid_outcome")
    stays = f" {kept} other connection(s) of the same account stay connected." if int(kept) else ""
    if upstream == "pending":
        told = PENDING.get(reason) or (
            f"The provider did not revoke the tokens ({reason}); the gateway keeps retrying the "
            "revocation there in the background."
        )
    else:
        told = UPSTREAM[upstream]
    return Outcome(
        ok=True,
        action="revoked",
        message=(
            f"Connection revoked and its tokens erased; revoked at the provider: "
            f"{UPSTREAM_METHOD_TEXT[method]}.{stays} {told}"
        ),
        upstream=upstream,
    )


async def connection_page(
    request: Request, operator: Operator, connection_id: uuid.UUID, outcome: Outcome | None = None
) -> Response:
    async with resources(request).db.transaction() as session:
        found = await history.load(session, connection_id)
        owner = await ownership.owner_name(session, found.connection)
        ids = await external_ids.of_one(session, connection_id)
    now = utcnow()
    pending = found.pending
    return page(
        "connection.html",
        operator=operator,
        outcome=outcome,
        c=views.connection(found.connection, now, owner, ids),
        pending=pending,
        pending_next=views.moment(pending.next_attempt_at, now) if pending else None,
        refreshes=views.refresh_history(found, now),
        audit=views.audit_entries(found.audit, now),
        events=[views.event(o, now) for o in found.outbound],
        shown=history.SHOWN,
    )
