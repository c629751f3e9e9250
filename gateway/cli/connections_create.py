"""``gateway connections create``: an operator creates a connection on the database, through the
admin API's own service, audited with the OS user. ``--client-credentials``: an app-level
connection whose token the gateway obtains with its own client credentials
(``connections.client_credentials``)."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from gateway.cli.connections import actor, shown
from gateway.cli.context import check_startable, echo_json, json_option, settings, with_core
from gateway.composition import Core
from gateway.connections import client_credentials
from gateway.connections.ownership import AS_OPERATOR
from gateway.kit.clock import rfc3339
from gateway.kit.validation import problems, summary
from gateway.models import Connection


@click.command("create")
@click.option(
    "--client-credentials",
    "client_credentials_flag",
    is_flag=True,
    help="An app-level connection: the gateway's own client credentials, no user (required).",
)
@click.option("--user", "user_id", required=True, help="The app's name, e.g. app:reporting.")
@click.option("--provider", help="The provider (default: GATEWAY_DEFAULT_PROVIDER).")
@click.option("--scope", "scopes", multiple=True, help="A scope to ask for (repeatable).")
@click.option("--audience", help="The audience to ask the token for.")
@click.option(
    "--resource", "resources", multiple=True, help="An RFC 8707 resource URI (repeatable)."
)
@click.option("--owner", help="The owning client's name (default: operator).")
@json_option
def create(
    client_credentials_flag: bool,
    user_id: str,
    provider: str | None,
    scopes: tuple[str, ...],
    audience: str | None,
    resources: tuple[str, ...],
    owner: str | None,
    as_json: bool,
) -> None:
    """Create a connection; the token is obtained and stored now, never printed."""
    if not client_credentials_flag:
        raise click.UsageError("say which kind of connection: --client-credentials")
    body: dict[str, Any] = {"user_id": user_id, "provider": provider, "owner": owner}
    if scopes:
        body["scopes"] = list(scopes)
    if audience is not None:
        body["audience"] = audience
    if resources:
        body["resource"] = list(resources)
    try:
        request = client_credentials.ClientCredentialsRequest.model_validate(body)
    except ValidationError as exc:
        raise click.UsageError(summary(problems(exc))) from exc
    check_startable(settings())

    async def work(core: Core) -> Connection:
        return await client_credentials.create(
            core.db,
            core.keys,
            core.providers,
            core.settings,
            request,
            actor=AS_OPERATOR,
            audit_actor=actor(),
        )

    connection = with_core(work)
    if as_json:
        echo_json(shown(connection))
        return
    click.echo(
        f"created connection {connection.id} ({connection.auth_mode}, {connection.provider}): "
        f"the access token expires at {rfc3339(connection.expires_at) or 'an unknown time'}"
    )
