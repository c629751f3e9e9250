"""``gateway connections create``: store a credential (an API key, a user and password, a header's
value) as a connection, as an operator, through the admin API's own service
(``connections.stored_credentials``): verified with the provider first, audited with the OS user.

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
from gateway.connections.stored_credentials import CredentialRequest, Stored, store_credential
from gateway.kit.validation import problems, summary


@click.command("create")
@click.option("--user", "user_id", required=True, help="The user the connection is for.")
@click.option("--provider", help="A provider that takes stored credentials (its auth_mode).")
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
    api_key_stdin: bool,
    username: str | None,
    password_stdin: bool,
    value_stdin: bool,
    owner: str | None,
    additional: bool,
    as_json: bool,
) -> None:
    """Store a verified credential as a connection (never printed)."""
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
        raise click.UsageError("give one of --api-key-stdin, --password-stdin, --value-stdin")
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
