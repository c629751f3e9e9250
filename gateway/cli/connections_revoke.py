"""``gateway connections revoke``: revoke a connection, a user's connections or all in a status,
here and at the provider, after showing what it does to the other connections of the same account.
"""

from __future__ import annotations

import sys
import uuid

import click
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.connections import actor, parse_id, shown
from gateway.cli.context import (
    check_startable,
    echo_json,
    json_option,
    settings,
    with_core,
    with_session,
)
from gateway.composition import Core
from gateway.connections import queries
from gateway.connections.revocation import Revocation, preview
from gateway.connections.sharing import RevocationPlan
from gateway.connections.views import UPSTREAM_METHOD_TEXT, revocation_json
from gateway.models import Connection, ConnectionStatus


@click.command("revoke")
@click.argument("connection_id", required=False)
@click.option("--user", "user_id", help="Revoke this user's connections (asks first).")
@click.option(
    "--status",
    type=click.Choice([s for s in queries.STATUSES if s != ConnectionStatus.REVOKED.value]),
    help="Revoke every connection in this status (asks first).",
)
@click.option("--provider", help="With --user or --status: only connections to this provider.")
@click.option(
    "--yes",
    is_flag=True,
    help="Do not ask for confirmation (asked with --user or --status, and for a connection whose "
    "provider account other connections share).",
)
@json_option
def revoke(
    connection_id: str | None,
    user_id: str | None,
    status: str | None,
    provider: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Revoke a connection (ID), a user's connections (--user) or all in a status (--status),
    here and at the provider.

    Other connections holding a grant for the same provider account are listed first (they stay
    connected: with one of them active, only this grant's tokens are revoked, never the whole
    account)."""
    if sum(x is not None for x in (connection_id, user_id, status)) != 1:
        raise click.UsageError("give a connection ID, --user USER_ID or --status STATUS")
    if provider is not None and connection_id is not None:
        raise click.UsageError("--provider goes with --user or --status")
    check_startable(settings())
    if connection_id is not None:
        targets = [parse_id(connection_id)]
        _confirm_shared(targets[0], yes)
    else:
        where = queries.ConnectionFilter(
            user_id=user_id,
            provider=provider,
            status=ConnectionStatus(status) if status is not None else None,
        )
        targets = _confirmed_targets(where, yes)

    async def work(core: Core) -> list[Revocation]:
        revoker = core.revoker()
        done = []
        with click.progressbar(
            length=len(targets), label="revoking", file=sys.stderr, hidden=len(targets) < 2
        ) as bar:
            for target in targets:
                done.append(await revoker.revoke(target, actor=actor()))
                bar.update(1)
        return done

    done = with_core(work)
    if as_json:
        echo_json(
            [
                {
                    **shown(r.connection),
                    **r.outcome(),
                    "revocation": revocation_json(r.plan),
                }
                for r in done
            ]
        )
        return
    for revocation in done:
        connection = revocation.connection
        click.echo(
            f"revoked connection {connection.id} (user {connection.user_id}, "
            f"{connection.provider}); upstream revocation: {revocation.upstream} "
            f"({UPSTREAM_METHOD_TEXT[revocation.plan.upstream]})"
        )
        for other in revocation.plan.sharing:
            click.echo(f"  {_sharing_line(revocation.plan, other)}")
        problem = revocation.upstream_error
        if problem is not None:
            click.echo(f"  {problem.code}: {problem.message}")
        if revocation.upstream == "pending":
            if problem is None:
                click.echo("  an earlier attempt at the provider is still pending")
            click.echo("  `gateway worker` (or serve) retries it at the provider")


def _plans(targets: list[uuid.UUID]) -> list[RevocationPlan]:
    config = settings()

    async def work(session: AsyncSession) -> list[RevocationPlan]:
        return [await preview(session, config, target) for target in targets]

    return with_session(work)


def _sharing_line(plan: RevocationPlan, other: Connection) -> str:
    fate = "its grant ends too" if other in plan.ended else "stays connected"
    return f"{other.id}  user {other.user_id}  {other.status.value}: {fate}"


def describe_plan(plan: RevocationPlan) -> list[str]:
    """What revoking ``plan.connection`` would do, as the confirmation shows it."""
    c = plan.connection
    lines = [
        f"connection {c.id} (user {c.user_id}, {c.provider}): revokes "
        f"{UPSTREAM_METHOD_TEXT[plan.upstream]}"
    ]
    if plan.sharing:
        lines.append(
            f"  {len(plan.sharing)} other connection(s) hold a grant for the same "
            f"{c.provider} account:"
        )
        lines += [f"    {_sharing_line(plan, other)}" for other in plan.sharing]
    return lines


def _confirm_shared(target: uuid.UUID, yes: bool) -> None:
    """Show what revoking ``target`` does to its account's other connections; ask if there are."""
    [plan] = _plans([target])
    if not plan.sharing:
        return
    for line in describe_plan(plan):
        click.echo(line, err=True)
    if not yes:
        click.confirm("Revoke it?", abort=True, err=True)


def _confirmed_targets(where: queries.ConnectionFilter, yes: bool) -> list[uuid.UUID]:
    async def work(session: AsyncSession) -> list[Connection]:
        return list(await queries.revocable(session, where))

    found = with_session(work)
    shared = [plan for plan in _plans([c.id for c in found]) if plan.sharing]
    scope = f"user {where.user_id!r}" if where.user_id else f"status {where.status}"
    at = f" at {where.provider}" if where.provider else ""
    if not found:
        raise click.ClickException(f"no connection to revoke for {scope}{at}")
    for plan in shared[:10]:
        for line in describe_plan(plan):
            click.echo(line, err=True)
    if not yes:
        listed = ", ".join(f"{c.user_id}/{c.provider} ({c.status.value})" for c in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        click.confirm(
            f"Revoke {len(found)} connection(s) for {scope}{at}: {listed}{more}?", abort=True
        )
    return [connection.id for connection in found]
