"""What an operator changes on a connection: pause and resume it, make it the default, and edit its
metadata, labels and external ids.

Each goes through the admin API's ``PATCH`` code (``access.changed_by``, ``updating.apply``) as the
signed-in operator, audited under their name, and answers with a redirect to the connection's page
(POST-redirect-GET). An edit is conditional on the revision its form was filled from, like a
``PATCH`` with ``If-Match``: a stale form changes nothing (412). A refused edit shows the
connection's page again with the gateway's reason on top and the operator's text kept in the form.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from gateway.connections import access, queries, updating
from gateway.connections.updating import ConnectionPatch
from gateway.console.connections import connection_page
from gateway.console.forms import EditForm
from gateway.console.guard import Operator, operator_page
from gateway.console.outcomes import Outcome, done_url, refused
from gateway.console.render import see_other
from gateway.exceptions import GatewayError, NotFound, PreconditionFailed
from gateway.resources import resources


@operator_page
async def pause(request: Request, operator: Operator) -> Response:
    return await _set_enabled(request, operator, enabled=False)


@operator_page
async def resume(request: Request, operator: Operator) -> Response:
    return await _set_enabled(request, operator, enabled=True)


async def _set_enabled(request: Request, operator: Operator, *, enabled: bool) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    async with resources(request).db.transaction() as session:
        await _apply(session, operator, connection_id, ConnectionPatch(enabled=enabled))
    return see_other(done_url(connection_id, "resumed" if enabled else "paused"))


@operator_page
async def make_default(request: Request, operator: Operator) -> Response:
    """Make an additional connection its user's default (``PATCH`` with ``is_default``: the
    previous default becomes an additional connection)."""
    connection_id = queries.parse_id(request.path_params["connection_id"])
    async with resources(request).db.transaction() as session:
        await _apply(session, operator, connection_id, ConnectionPatch(is_default=True))
    return see_other(done_url(connection_id, "made_default"))


async def _apply(
    session: AsyncSession, operator: Operator, connection_id: uuid.UUID, patch: ConnectionPatch
) -> list[str]:
    connection = await access.changed_by(session, operator.acting, connection_id)
    return await updating.apply(
        session, connection, patch, actor=operator.acting, audit_actor=operator.actor
    )


@operator_page
async def edit(request: Request, operator: Operator) -> Response:
    connection_id = queries.parse_id(request.path_params["connection_id"])
    form = EditForm.submitted(await request.form())
    current: int | None = None  # the revision the edit was checked against
    try:
        async with resources(request).db.transaction() as session:
            connection = await access.changed_by(session, operator.acting, connection_id)
            current = connection.revision
            updating.check_precondition(connection, form.if_match())
            fields = await updating.apply(
                session,
                connection,
                form.patch(connection),
                actor=operator.acting,
                audit_actor=operator.actor,
            )
    except NotFound:
        raise
    except GatewayError as exc:
        stale = isinstance(exc, PreconditionFailed)
        return await connection_page(
            request,
            operator,
            connection_id,
            _refused(exc, form, current),
            # A stale form is kept as the operator wrote it, now against the current revision:
            # saving it again, after a look at the values above, is their decision.
            form=form.with_revision(current) if current is not None and stale else form,
            status_code=exc.status_code,
        )
    return see_other(done_url(connection_id, "updated" if fields else "unchanged", fields))


def _refused(exc: GatewayError, form: EditForm, current: int | None) -> Outcome:
    if isinstance(exc, PreconditionFailed):
        message = (
            f"Not saved: the connection changed since this form was filled (revision "
            f"{form.revision}; it is now at {current}). Your text is kept below; check the "
            f"values above and save again ({exc.code})."
        )
        return Outcome(False, "not_saved", message)
    return refused("not_saved", "Not saved", exc)
