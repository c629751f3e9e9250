"""``gateway connections update``: change what a connection's owner may set (pause or resume it,
its metadata, external ids and labels), as an operator, through the admin API's own service
(``connections.updating``), audited with the OS user."""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.connections import actor, parse_id
from gateway.cli.context import echo_json, json_option, with_session
from gateway.connections import queries, updating
from gateway.connections.ownership import AS_OPERATOR
from gateway.connections.views import etag, one_json
from gateway.kit.validation import problems, summary


@click.command("update")
@click.argument("connection_id")
@click.option(
    "--enable/--disable",
    "enabled",
    default=None,
    help="Resume or pause it (a paused connection is refused by the proxy and still refreshed).",
)
@click.option(
    "--metadata",
    help="A JSON object merged into its metadata (RFC 7396: a null member removes a key).",
)
@click.option(
    "--external-id",
    "external_ids",
    multiple=True,
    help="Its external ids become these (repeatable; at most 5).",
)
@click.option("--clear-external-ids", is_flag=True, help="Remove all its external ids.")
@click.option("--label", "set_labels", multiple=True, help="Set a label: key=value (repeatable).")
@click.option("--remove-label", "removed_labels", multiple=True, help="Remove a label by key.")
@click.option(
    "--if-match",
    help="Only if it is still at this ETag (show --json prints it); else nothing changes, exit 1.",
)
@json_option
def update(
    connection_id: str,
    enabled: bool | None,
    metadata: str | None,
    external_ids: tuple[str, ...],
    clear_external_ids: bool,
    set_labels: tuple[str, ...],
    removed_labels: tuple[str, ...],
    if_match: str | None,
    as_json: bool,
) -> None:
    """Pause or resume a connection, or change its metadata, external ids or labels (audited)."""
    wanted = parse_id(connection_id)
    patch = _patch(enabled, metadata, external_ids, clear_external_ids, set_labels, removed_labels)
    condition = _quoted(if_match)

    async def work(session: AsyncSession) -> tuple[list[str], dict[str, Any]]:
        connection = await queries.get(session, wanted, for_update=True)
        updating.check_precondition(connection, condition)
        fields = await updating.apply(
            session, connection, patch, actor=AS_OPERATOR, audit_actor=actor()
        )
        return fields, {**await one_json(session, connection), "etag": etag(connection)}

    fields, body = with_session(work)
    if as_json:
        echo_json(body)
    elif fields:
        click.echo(f"updated connection {body['id']}: {', '.join(fields)} (ETag {body['etag']})")
    else:
        click.echo(f"connection {body['id']}: nothing to change (ETag {body['etag']})")


def _quoted(etag: str | None) -> str | None:
    """An ETag as typed (``3`` or ``"3"``, or ``*``) as ``If-Match`` carries it."""
    if etag is None or etag == "*" or etag.startswith('"'):
        return etag
    return f'"{etag}"'


def _patch(
    enabled: bool | None,
    metadata: str | None,
    external_ids: tuple[str, ...],
    clear_external_ids: bool,
    set_labels: tuple[str, ...],
    removed_labels: tuple[str, ...],
) -> updating.ConnectionPatch:
    """The options as the PATCH body they stand for, validated as the admin API validates it."""
    body: dict[str, Any] = {}
    if enabled is not None:
        body["enabled"] = enabled
    if metadata is not None:
        try:
            body["metadata"] = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--metadata") from exc
    if external_ids and clear_external_ids:
        raise click.UsageError("give --external-id or --clear-external-ids, not both")
    if external_ids or clear_external_ids:
        body["external_ids"] = list(external_ids)
    labels: dict[str, str | None] = {}
    for pair in set_labels:
        key, equals, value = pair.partition("=")
        if not equals:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--label")
        labels[key] = value
    labels.update(dict.fromkeys(removed_labels))
    if labels:
        body["labels"] = labels
    try:
        return updating.ConnectionPatch.model_validate(body)
    except ValidationError as exc:
        raise click.UsageError(summary(problems(exc))) from exc
