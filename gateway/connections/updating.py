"""Updating a connection: a JSON Merge Patch (RFC 7396) of the fields its owner may set.

``enabled`` pauses (false) or resumes (true) it: the proxy refuses a paused connection, and the
refresher keeps it fresh, so that it resumes without the user. ``metadata`` is merged into the
stored object (a null member removes a key); ``labels`` likewise (a null value removes a label);
``external_ids`` replaces the whole set; a top-level null clears metadata, labels or external ids.
``is_default`` makes it the default connection of its user, provider and space. ``settings`` (an
operator's alone: 403 ``settings_operator_only`` for a service client) is merged like labels and
must make an API base URL the provider's profile allows (422 ``setting_not_allowed``, nothing
changed).

A patch that changes something grows ``revision`` (the ETag) by one and is audited as
``connection.updated`` (the fields changed; old and new values of enabled, labels and external
ids; of metadata only the keys that changed, never values), a change of ``enabled`` also as
``connection.paused`` or ``connection.resumed``. A patch that changes nothing writes nothing.
With ``If-Match`` a patch applies only to the revision it names (``412 precondition_failed``);
the caller holds the row lock, so of two patches sent with the same ETag only one applies.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import defaults, external_ids, labels
from gateway.connections.errors import MetadataTooLarge, SettingsOperatorOnly, TooManyLabels
from gateway.connections.fields import (
    MAX_METADATA_BYTES,
    ExternalIds,
    LabelsPatch,
    Metadata,
    metadata_size,
)
from gateway.connections.ownership import Actor
from gateway.connections.views import etag
from gateway.exceptions import BadRequest, PreconditionFailed
from gateway.kit.merge_patch import merge
from gateway.models import Connection
from gateway.operators.roles import Permission
from gateway.providers.profile import (
    DEFAULT_PROFILE,
    MAX_SETTING_LENGTH,
    SETTING_NAME,
    ApiProfile,
)

SettingsPatch = dict[str, str | None]


class ConnectionPatch(BaseModel):
    """``PATCH /v1/connections/{id}``: the fields to change; an absent field stays as it is."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = None
    metadata: Metadata | None = None
    external_ids: ExternalIds | None = None
    labels: LabelsPatch | None = None
    is_default: StrictBool | None = None
    settings: SettingsPatch | None = None

    @field_validator("settings")
    @classmethod
    def _setting_names(cls, value: SettingsPatch | None) -> SettingsPatch | None:
        for name, setting in (value or {}).items():
            if not SETTING_NAME.fullmatch(name):
                raise ValueError(f"{name[:64]!r} is not a setting's name")
            if setting is not None and not 0 < len(setting) <= MAX_SETTING_LENGTH:
                raise ValueError(f"the {name} setting must be 1 to {MAX_SETTING_LENGTH} characters")
        return value

    @field_validator("enabled", "is_default", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must be true or false; it cannot be removed")
        return value

    def given(self, name: str) -> bool:
        return name in self.model_fields_set


def permission_of(patch: ConnectionPatch) -> Permission:
    """What an operator needs for ``patch``: pausing or resuming alone is support's, the rest is
    managing connections."""
    if patch.model_fields_set <= {"enabled"}:
        return Permission.PAUSE_CONNECTIONS
    return Permission.MANAGE_CONNECTIONS


def check_precondition(connection: Connection, if_match: str | None) -> None:
    """PreconditionFailed unless ``if_match`` (an ``If-Match`` header) is absent, ``*``, or lists
    the connection's current ETag (strong comparison: a weak tag never matches)."""
    if if_match is None:
        return
    tags = {tag.strip() for tag in if_match.split(",")}
    current = etag(connection)
    if "*" not in tags and current not in tags:
        raise PreconditionFailed(
            "the connection has changed since that ETag was read; read it again",
            details={"etag": current},
        )


async def apply(
    session: AsyncSession,
    connection: Connection,
    patch: ConnectionPatch,
    *,
    actor: Actor,
    audit_actor: str,
    profile: ApiProfile = DEFAULT_PROFILE,
) -> list[str]:
    """Apply ``patch`` to ``connection`` (locked by the caller) in the caller's transaction, as
    ``actor`` (audited as ``audit_actor``); the names of the fields it changed, sorted (none:
    nothing was written). ``profile`` is the connection's provider's: it checks the settings."""
    changes: dict[str, Any] = {}
    revision = connection.revision
    if patch.given("settings"):
        _set_settings(connection, patch.settings, changes, actor, profile)
    if patch.enabled is not None and patch.enabled != connection.enabled:
        changes["enabled"] = {"from": connection.enabled, "to": patch.enabled}
        connection.enabled = patch.enabled
    if patch.given("metadata"):
        _set_metadata(connection, patch.metadata, changes)
    if patch.given("labels"):
        _set_labels(connection, patch.labels, changes)
    if patch.given("external_ids"):
        await _set_external_ids(session, connection, patch.external_ids or [], changes)
    if patch.is_default is not None:
        await _set_default(session, actor, connection, patch.is_default, changes, audit_actor)
    if not changes:
        return []
    if connection.revision == revision:  # moving the default has grown it already
        connection.revision += 1
    fields = sorted(changes)
    audit.record(
        session,
        actor=audit_actor,
        action="connection.updated",
        connection_id=connection.id,
        details={"fields": fields, "changes": changes, "labels": connection.labels},
    )
    if "enabled" in changes:
        audit.record(
            session,
            actor=audit_actor,
            action="connection.resumed" if connection.enabled else "connection.paused",
            connection_id=connection.id,
            details={"labels": connection.labels},
        )
    await session.flush()
    await session.refresh(connection)  # updated_at is the database's
    return fields


def _set_settings(
    connection: Connection,
    patch: dict[str, str | None] | None,
    changes: dict[str, Any],
    actor: Actor,
    profile: ApiProfile,
) -> None:
    if not actor.operator:
        raise SettingsOperatorOnly(
            "a connection's settings come from its provider or an operator",
            details={"field": "settings"},
        )
    before = connection.provider_settings
    merged = {} if patch is None else {**before, **patch}
    after = {name: value for name, value in merged.items() if value is not None}
    if after == before:
        return
    profile.check_settings(after)
    changes["settings"] = {"from": before, "to": after}  # not secrets: URLs and ids
    connection.provider_settings = after


def _set_metadata(
    connection: Connection, patch: dict[str, Any] | None, changes: dict[str, Any]
) -> None:
    before = connection.metadata_
    after = merge(before, patch) if patch is not None else {}
    assert isinstance(after, dict)
    if after == before:
        return
    size = metadata_size(after)
    if size > MAX_METADATA_BYTES:
        raise MetadataTooLarge(
            f"the metadata would be {size} bytes as JSON; at most {MAX_METADATA_BYTES} are kept",
            details={"limit_bytes": MAX_METADATA_BYTES, "size_bytes": size},
        )
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    changes["metadata"] = {"keys": sorted(changed)}
    connection.metadata_ = after


def _set_labels(
    connection: Connection, patch: dict[str, str | None] | None, changes: dict[str, Any]
) -> None:
    before = connection.labels
    after = labels.merged(before, patch) if patch is not None else {}
    if after == before:
        return
    if len(after) > labels.MAX_LABELS:
        raise TooManyLabels(
            f"a connection has at most {labels.MAX_LABELS} labels; this would leave {len(after)}",
            details={"limit": labels.MAX_LABELS, "count": len(after)},
        )
    changes["labels"] = {"from": before, "to": after}
    connection.labels = after


async def _set_external_ids(
    session: AsyncSession, connection: Connection, wanted: list[str], changes: dict[str, Any]
) -> None:
    before = await external_ids.of_one(session, connection.id)
    after = sorted(wanted)
    if after == before:
        return
    await external_ids.replace(session, connection, after)
    changes["external_ids"] = {"from": before, "to": after}


async def _set_default(
    session: AsyncSession,
    actor: Actor,
    connection: Connection,
    wanted: bool,
    changes: dict[str, Any],
    audit_actor: str,
) -> None:
    """``true`` moves the default here (``defaults.make_default``: the owner of both connections
    or an operator); ``false`` is refused, since a user's default stops being it only when another
    connection becomes it."""
    if wanted == connection.is_default:
        return
    if not wanted:
        raise BadRequest(
            "a default connection stops being the default when another one becomes it: set "
            "is_default true on that one",
            details={"field": "is_default", "is_default": True},
        )
    await defaults.make_default(session, actor, connection, audit_actor=audit_actor)
    changes["is_default"] = {"from": False, "to": True}
