"""``gateway connections verify``: ask the provider now whether it takes a connection's credential,
as an operator, through the admin API's own service (``connections.verification``), audited with
the OS user. Exit codes: 0 taken, 1 refused (the provider's reason printed) or not verifiable."""

from __future__ import annotations

import click

from gateway.cli.connections import actor, parse_id
from gateway.cli.context import check_startable, echo_json, json_option, settings, with_core
from gateway.composition import Core
from gateway.connections.ownership import AS_OPERATOR
from gateway.connections.verification import METHOD_TEXT, Verified, Verifier
from gateway.kit.clock import rfc3339
from gateway.providers.credential_profile import CredentialRejected


@click.command("verify")
@click.argument("connection_id")
@json_option
def verify(connection_id: str, as_json: bool) -> None:
    """Ask the provider whether it still takes a connection's credential: a stored credential's
    verification request, a new client-credentials exchange, or a refresh of a user's grant.
    Never prints a secret or a token."""
    check_startable(settings())
    wanted = parse_id(connection_id)

    async def work(core: Core) -> Verified | CredentialRejected:
        verifier = Verifier(core.db, core.keys, core.providers, core.http, core.refresher)
        try:
            return await verifier.verify(wanted, actor=AS_OPERATOR, audit_actor=actor())
        except CredentialRejected as exc:
            return exc

    outcome = with_core(work)
    if isinstance(outcome, CredentialRejected):
        if as_json:
            echo_json(outcome.body())
        else:
            reason = (outcome.details or {}).get("reason") or "no reason given"
            click.echo(f"rejected ({outcome.code}): {outcome.message}; the provider said: {reason}")
        raise click.exceptions.Exit(1)
    connection = outcome.connection
    if as_json:
        echo_json(
            {
                "verified": True,
                "connection_id": str(connection.id),
                "auth_mode": connection.auth_mode,
                "method": outcome.method,
            }
        )
        return
    expiry = ""
    if connection.expires_at is not None:
        expiry = f"; the access token expires at {rfc3339(connection.expires_at)}"
    click.echo(
        f"verified connection {connection.id} ({connection.auth_mode}): "
        f"{METHOD_TEXT[outcome.method]}{expiry}"
    )
