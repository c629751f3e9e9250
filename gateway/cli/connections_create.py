"""``gateway connections create``: as an operator, through the admin API's own services, audited
with the OS user: store a credential (an API key, a user and password, a header's value) as a
connection, verified with the provider first (``connections.stored_credentials``), or create a
client-credentials connection, its token obtained now (``--client-credentials``;
``connections.client_credentials``).

The secret is read from standard input, never from the command line (where ``ps`` and the shell's
history would show it): ``--api-key-stdin``, ``--password-stdin`` (with ``--username``) or
``--value-stdin``; the first line is the secret.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from pydantic import ValidationError

from gateway.cli.connections import actor, shown
from gateway.cli.context import check_startable, echo_json, json_option, settings, with_core
from gateway.composition import Core
from gateway.connections import client_credentials
from gateway.connections.ownership import AS_OPERATOR
from gateway.connections.stored_credentials import CredentialRequest, Stored, store_credential
from gateway.kit.clock import rfc3339
from gateway.kit.validation import problems, summary
from gateway.models import Connection


@click.command("create")
@click.option("--user", "user_id", required=True, help="The user (or app) the connection is for.")
@click.option("--provider", help="The provider (default: GATEWAY_DEFAULT_PROVIDER).")
@click.option(
    "--client-credentials",
    "client_credentials_flag",
    is_flag=True,
    help="An app-level connection: the gateway's own client credentials, no user.",
)
@click.option("--scope", "scopes", multiple=True, help="With --client-credentials: a scope.")
@click.option("--audience", help="With --client-credentials: the audience to ask for.")
@click.option(
    "--resource", "resources", multiple=True, help="With --client-credentials: an RFC 8707 URI."
)
@click.option("--api-key-stdin", is_flag=True, help="Read an API key from standard input.")
@click.option("--username", help="The user name of a basic credential (with --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--value-stdin", is_flag=True, help="Read a header's value from standard input.")
@click.option("--owner", help="The client that owns it (its space); default operator.")
@click.option("--additional", is_flag=True, help="A new connection beside the user's default.")
@json_option
def create(
    user_id: str,
    provider: str | None,
    client_credentials_flag: bool,
    scopes: tuple[str, ...],
    audience: str | None,
    resources: tuple[str, ...],
    api_key_stdin: bool,
    username: str | None,
    password_stdin: bool,
    value_stdin: bool,
    owner: str | None,
    additional: bool,
    as_json: bool,
) -> None:
    """Store a verified credential as a connection, or create a client-credentials connection
    (``--client-credentials``); no secret or token is ever printed."""
    if client_credentials_flag:
        if api_key_stdin or password_stdin or value_stdin or username or additional:
            raise click.UsageError("--client-credentials reads no credential and adds no default")
        _client_credentials(user_id, provider, scopes, audience, resources, owner, as_json)
        return
    if scopes or audience or resources:
        raise click.UsageError("--scope, --audience and --resource go with --client-credentials")
    chosen = [
        name
        for name, given in (
            ("api_key", api_key_stdin),
            ("password", password_stdin),
            ("value", value_stdin),
        )
        if given
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "give one of --client-credentials, --api-key-stdin, --password-stdin, --value-stdin"
        )
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError("standard input held no secret")
    fields: dict[str, Any] = {
        "user_id": user_id,
        "provider": provider,
        "owner": owner,
        "additional": additional,
        chosen[0]: secret,
    }
    if username is not None:
        fields["username"] = username
    try:
        request = CredentialRequest.model_validate(fields)
    except ValidationError as exc:
        raise click.UsageError(summary(problems(exc, whole=""))) from None
    check_startable(settings())

    async def work(core: Core) -> Stored:
        return await store_credential(
            core.db,
            core.keys,
            core.providers,
            core.http,
            core.settings,
            request,
            actor=actor(),
            client_id=None,
        )

    stored = with_core(work)
    if as_json:
        echo_json(shown(stored.connection))
        return
    verb = "created" if stored.created else "replaced the credential of"
    click.echo(f"{verb} connection {stored.connection.id} ({stored.connection.auth_mode})")


def _client_credentials(
    user_id: str,
    provider: str | None,
    scopes: tuple[str, ...],
    audience: str | None,
    resources: tuple[str, ...],
    owner: str | None,
    as_json: bool,
) -> None:
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
