"""The audit trail's filters as a query string writes them, read the same way by the admin API
(``GET /v1/audit-events``) and the console's audit page: ``actor``, ``action``, ``connection_id``,
``since`` (inclusive) and ``until`` (exclusive), the times RFC 3339 with a time zone. A malformed
value is a 400 naming the parameter (``invalid_since``...), as every query parameter's is."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from gateway.audit.store import Filter
from gateway.kit import query
from gateway.kit.errors import BadRequest

FILTERS = ("actor", "action", "connection_id", "since", "until")
ACTOR_MAX_LENGTH = 200
ACTION_MAX_LENGTH = 64


def chosen(params: QueryParams) -> Filter:
    """The entries ``params`` choose (parameters other than ``FILTERS`` are the caller's to check)."""
    since = query.moment(params, "since")
    until = query.moment(params, "until")
    if since is not None and until is not None and until <= since:
        raise BadRequest("until must be later than since", code="invalid_until")
    return Filter(
        connection_id=query.uuid_param(params, "connection_id"),
        action=query.text(params, "action", max_length=ACTION_MAX_LENGTH),
        actor=query.text(params, "actor", max_length=ACTOR_MAX_LENGTH),
        since=since,
        until=until,
    )
