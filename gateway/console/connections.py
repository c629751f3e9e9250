"""The connections list (search by user id, filter by status, provider, auth mode, external id,
labels and paused state, page) and a connection's page."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from gateway.connections import delegated_keys, external_ids, ownership, queries
from gateway.connections.endpoints import label_selectors
from gateway.console import history, outcomes, search, views
from gateway.console.forms import EditForm, KeyForm
from gateway.console.guard import Operator, operator_page
from gateway.console.outcomes import LIST, Outcome
from gateway.console.render import page
from gateway.kit import query
from gateway.kit.clock import utcnow
from gateway.kit.pagination import DEFAULT_LIMIT
from gateway.models import AuthMode, ConnectionStatus
from gateway.providers.credential_profile import CredentialProfile
from gateway.providers.errors import ProviderNotFound
from gateway.providers.profile import BEARER, AuthHeader
from gateway.providers.registry import ProviderRegistry
from gateway.resources import resources
from gateway.tokens import unreadable

PARAMETERS = (
    *("user", "match", "provider", "status", "auth_mode", "external_id", "label", "enabled"),
    "cursor",
)
# The enabled filter's choices: a paused connection is one with enabled false.
STATES = {"true": True, "false": False}
# The connection's page: an action's outcome, and where its timeline is paged to.
OLDER = "older"
# The newest delegated keys the page lists (the CLI and the admin API page through all of them).
KEYS_SHOWN = 20


def parse_search(params: QueryParams) -> search.Search:
    """The search of a submitted form, where an empty field means no filter."""
    given = QueryParams({name: value.strip() for name, value in params.items() if value.strip()})
    query.only(given, PARAMETERS)
    match = query.choice(given, "match", search.MATCHES)
    status = query.choice(given, "status", queries.STATUSES)
    auth_mode = query.choice(given, "auth_mode", queries.AUTH_MODES)
    enabled = query.choice(given, "enabled", tuple(STATES))
    label = query.text(given, "label", max_length=2000) or ""
    return search.Search(
        user=query.text(given, "user", max_length=255),
        match="exact" if match == "exact" else "prefix",
        provider=query.text(given, "provider", max_length=64),
        status=ConnectionStatus(status) if status is not None else None,
        auth_mode=AuthMode(auth_mode) if auth_mode is not None else None,
        external_id=query.text(given, "external_id", max_length=255),
        labels=label_selectors([part.strip() for part in label.split(",") if part.strip()]),
        enabled=STATES[enabled] if enabled is not None else None,
    )


def search_url(found: search.Search, cursor: str | None = None) -> str:
    params = {
        "user": found.user or "",
        "match": found.match,
        "status": found.status.value if found.status else "",
        "auth_mode": found.auth_mode.value if found.auth_mode else "",
        "provider": found.provider or "",
        "external_id": found.external_id or "",
        "label": found.label_text,
        "enabled": "" if found.enabled is None else str(found.enabled).lower(),
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
        auth_modes=queries.AUTH_MODES,
        unreadable=unreadable_count,
        providers=sorted({*res.providers.names, *([found.provider] if found.provider else [])}),
        next_url=search_url(found, results.next_cursor) if results.next_cursor else None,
        first_url=search_url(found) if cursor else None,
    )


@operator_page
async def show_connection(request: Request, operator: Operator) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    params = request.query_params
    query.only(params, (*outcomes.PARAMETERS, OLDER))
    return await connection_page(
        request, operator, connection_id, outcomes.outcome_of(params), older=params.get(OLDER)
    )


async def connection_page(
    request: Request,
    operator: Operator,
    connection_id: uuid.UUID,
    outcome: Outcome | None = None,
    *,
    older: str | None = None,
    form: EditForm | None = None,
    key_form: KeyForm | None = None,
    status_code: int = 200,
) -> Response:
    """The connection's page; ``form`` and ``key_form``: a form as the operator sent it (after a
    refusal), else the edit form filled from the connection and an empty issue form."""
    async with resources(request).db.transaction() as session:
        found = await history.load(session, connection_id, older=older)
        owner = await ownership.owner_name(session, found.connection)
        ids = await external_ids.of_one(session, connection_id)
        keys, _more = await delegated_keys.listing(
            session, connection_id, cursor=None, limit=KEYS_SHOWN
        )
    now = utcnow()
    pending = found.pending
    timeline = found.timeline
    profile, auth = profiles(resources(request).providers, found.connection.provider)
    return page(
        "connection.html",
        status_code=status_code,
        operator=operator,
        outcome=outcome,
        c=views.connection(found.connection, now, owner, ids),
        details=views.auth_details(found.connection, profile, auth),
        form=form or EditForm.of(found.connection, ids),
        key_form=key_form or KeyForm(),
        keys=[views.delegated_key(key, now) for key in keys],
        pending=pending,
        pending_next=views.moment(pending.next_attempt_at, now) if pending else None,
        timeline=[views.timeline_entry(entry, now) for entry in timeline.items],
        older_url=(
            outcomes.connection_url(connection_id, **{OLDER: timeline.next_cursor})
            if timeline.next_cursor
            else None
        ),
        newest_url=outcomes.connection_url(connection_id) if older else None,
    )


def profiles(providers: ProviderRegistry, name: str) -> tuple[CredentialProfile | None, AuthHeader]:
    """The provider's stored-credential profile (None for one that takes OAuth grants or is no
    longer configured) and how it takes a credential (``auth_header``)."""
    try:
        provider = providers.get(name)
    except ProviderNotFound:
        return None, BEARER
    return provider.credentials, provider.profile.auth_header
