"""What a sandbox starts with: workspaces, users, and meetings of its own beyond the sample data.

``DEFAULT`` is what ``gateway sandbox`` seeds when no ``--seed FILE`` is given; ``load`` reads such a
file (JSON, or TOML when it ends in ``.toml``), which replaces the default whole. Its format::

    [[workspaces]]
    name = "Acme Team"                # required, unique
    id = "…uuid…"                     # optional; derived from the name otherwise
    partner = "other-client"          # optional; the partner app owning it (default: this sandbox's)
    sample_data = true                # optional; generated meetings for its first owner

    [[users]]
    email = "olivia@acme.example"     # required, unique
    name = "Olivia Owner"             # optional; derived from the email otherwise
    workspace = "Acme Team"           # optional (name or id); omitted: a personal workspace
    role = "WORKSPACE_OWNER"          # optional; OWNER in a personal workspace, else MEMBER
    plan_type = "PRO"                 # optional: FREE, PRO, ELITE, ENT
    timezone = "Europe/Berlin"        # optional IANA id

    [[meetings]]
    workspace = "Acme Team"           # required (name or id)
    title = "Kickoff"                 # required
    start_time = "2026-05-04T09:00:00Z"   # optional, with end_time; omitted: a draft
    end_time = "2026-05-04T09:30:00Z"
    status = "scheduled"              # optional; from the times otherwise
    summary_notes = "…"               # optional
    action_items = [{title = "Send notes", status = "accepted", due_date = "2026-05-08"}]

    [[calendar_events]]
    workspace = "Acme Team"           # required (name or id)
    title = "Planning"                # required
    start_time = "2026-05-05T10:00:00Z"   # required
    end_time = "2026-05-05T11:00:00Z"     # required
    location = "Zoom"                 # optional

Everything is checked when the file is read; a mistake stops start-up with ``SeedError`` naming it.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from gateway_sandbox.state.content_records import ACTION_ITEM_STATUSES, MEETING_STATUSES

ROLES = ("WORKSPACE_OWNER", "WORKSPACE_ADMIN", "WORKSPACE_MEMBER")
PLANS = ("FREE", "PRO", "ELITE", "ENT")
_IDS = uuid.UUID("4d3c8a1e-6b2f-4e0a-9c7d-1f5e2a8b3c60")


class SeedError(ValueError):
    """The seed file cannot be read or names something inconsistent."""


@dataclass(frozen=True)
class SeedWorkspace:
    name: str
    id: UUID
    partner: str | None = None  # None: the sandbox's own client
    sample_data: bool = True


@dataclass(frozen=True)
class SeedUser:
    email: str
    name: str | None = None
    workspace: UUID | None = None  # None: a personal workspace of their own
    role: str | None = None
    plan_type: str = "PRO"
    timezone: str | None = None


@dataclass(frozen=True)
class SeedActionItem:
    title: str
    status: str = "accepted"
    due_date: date | None = None
    description: str | None = None


@dataclass(frozen=True)
class SeedMeeting:
    workspace: UUID
    title: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    summary_notes: str | None = None
    action_items: tuple[SeedActionItem, ...] = ()


@dataclass(frozen=True)
class SeedEvent:
    workspace: UUID
    title: str
    start_time: datetime
    end_time: datetime
    location: str = ""


@dataclass(frozen=True)
class Seed:
    workspaces: tuple[SeedWorkspace, ...] = ()
    users: tuple[SeedUser, ...] = ()
    meetings: tuple[SeedMeeting, ...] = field(default=())
    calendar_events: tuple[SeedEvent, ...] = ()


ACME = SeedWorkspace("Acme Team", UUID("5a4d7b0e-acde-4c0e-9a11-000000000001"))
GLOBEX = SeedWorkspace(
    "Globex (another partner)", UUID("5a4d7b0e-acde-4c0e-9a11-000000000002"), "other-partner"
)
DEFAULT = Seed(
    workspaces=(ACME, GLOBEX),
    users=(
        SeedUser("demo@example.com", "Demo User"),
        SeedUser("olivia@acme.example", "Olivia Owner", ACME.id, "WORKSPACE_OWNER"),
        SeedUser("adam@acme.example", "Adam Admin", ACME.id, "WORKSPACE_ADMIN"),
        SeedUser("mia@acme.example", "Mia Member", ACME.id, "WORKSPACE_MEMBER"),
        SeedUser("gus@globex.example", "Gus Globex", GLOBEX.id, "WORKSPACE_OWNER"),
    ),
)


def load(path: Path) -> Seed:
    """The seed in the JSON or TOML file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SeedError(f"cannot read the seed file {path}: {exc}") from exc
    return parse(raw)


def parse(raw: Any) -> Seed:
    """A seed from the decoded file; ``SeedError`` says what is wrong, and where."""
    body = _object(raw, "the seed")
    _known(body, "the seed", ("workspaces", "users", "meetings", "calendar_events"))
    workspaces = tuple(
        _workspace(_object(item, f"workspaces[{i}]"), f"workspaces[{i}]")
        for i, item in enumerate(_list(body, "workspaces"))
    )
    by_key = {w.name: w.id for w in workspaces} | {str(w.id): w.id for w in workspaces}
    if len({w.name for w in workspaces}) != len(workspaces):
        raise SeedError("workspace names must be unique")
    users = tuple(
        _user(_object(item, f"users[{i}]"), f"users[{i}]", by_key)
        for i, item in enumerate(_list(body, "users"))
    )
    if len({u.email for u in users}) != len(users):
        raise SeedError("user emails must be unique")
    meetings = tuple(
        _meeting(_object(item, f"meetings[{i}]"), f"meetings[{i}]", by_key)
        for i, item in enumerate(_list(body, "meetings"))
    )
    events = tuple(
        _event(_object(item, f"calendar_events[{i}]"), f"calendar_events[{i}]", by_key)
        for i, item in enumerate(_list(body, "calendar_events"))
    )
    return Seed(workspaces, users, meetings, events)


def _workspace(item: dict[str, Any], where: str) -> SeedWorkspace:
    _known(item, where, ("name", "id", "partner", "sample_data"))
    name = _text(item, "name", where, required=True)
    assert name is not None
    raw_id = _text(item, "id", where)
    return SeedWorkspace(
        name=name,
        id=_uuid(raw_id, where) if raw_id else uuid.uuid5(_IDS, f"workspace:{name}"),
        partner=_text(item, "partner", where),
        sample_data=_flag(item, "sample_data", where, default=True),
    )


def _user(item: dict[str, Any], where: str, workspaces: dict[str, UUID]) -> SeedUser:
    _known(item, where, ("email", "name", "workspace", "role", "plan_type", "timezone"))
    email = _text(item, "email", where, required=True)
    assert email is not None
    if "@" not in email:
        raise SeedError(f"{where}.email is not an email address")
    workspace = _text(item, "workspace", where)
    role = _text(item, "role", where)
    if role is not None and role not in ROLES:
        raise SeedError(f"{where}.role must be one of {', '.join(ROLES)}")
    plan = _text(item, "plan_type", where) or "PRO"
    if plan not in PLANS:
        raise SeedError(f"{where}.plan_type must be one of {', '.join(PLANS)}")
    return SeedUser(
        email=email.strip().lower(),
        name=_text(item, "name", where),
        workspace=_workspace_ref(workspace, where, workspaces) if workspace else None,
        role=role,
        plan_type=plan,
        timezone=_text(item, "timezone", where),
    )


def _meeting(item: dict[str, Any], where: str, workspaces: dict[str, UUID]) -> SeedMeeting:
    fields = ("workspace", "title", "start_time", "end_time", "status", "summary_notes")
    _known(item, where, (*fields, "action_items"))
    title = _text(item, "title", where, required=True)
    assert title is not None
    start, end = _moment(item, "start_time", where), _moment(item, "end_time", where)
    if (start is None) != (end is None) or (start and end and end <= start):
        raise SeedError(f"{where} needs both start_time and end_time, the end after the start")
    status = _text(item, "status", where)
    if status is not None and status not in MEETING_STATUSES:
        raise SeedError(f"{where}.status must be one of {', '.join(MEETING_STATUSES)}")
    items = tuple(
        _action_item(_object(entry, f"{where}.action_items[{i}]"), f"{where}.action_items[{i}]")
        for i, entry in enumerate(_list(item, "action_items"))
    )
    return SeedMeeting(
        workspace=_workspace_ref(_text(item, "workspace", where, True), where, workspaces),
        title=title,
        start_time=start,
        end_time=end,
        status=status,
        summary_notes=_text(item, "summary_notes", where),
        action_items=items,
    )


def _action_item(item: dict[str, Any], where: str) -> SeedActionItem:
    _known(item, where, ("title", "status", "due_date", "description"))
    title = _text(item, "title", where, required=True)
    assert title is not None
    status = _text(item, "status", where) or "accepted"
    if status not in ACTION_ITEM_STATUSES:
        raise SeedError(f"{where}.status must be one of {', '.join(ACTION_ITEM_STATUSES)}")
    due = _text(item, "due_date", where)
    try:
        due_date = date.fromisoformat(due) if due else None
    except ValueError as exc:
        raise SeedError(f"{where}.due_date must be YYYY-MM-DD") from exc
    return SeedActionItem(title, status, due_date, _text(item, "description", where))


def _event(item: dict[str, Any], where: str, workspaces: dict[str, UUID]) -> SeedEvent:
    _known(item, where, ("workspace", "title", "start_time", "end_time", "location"))
    title = _text(item, "title", where, required=True)
    start, end = _moment(item, "start_time", where), _moment(item, "end_time", where)
    if title is None or start is None or end is None or end <= start:
        raise SeedError(f"{where} needs a title, a start_time and a later end_time")
    return SeedEvent(
        workspace=_workspace_ref(_text(item, "workspace", where, True), where, workspaces),
        title=title,
        start_time=start,
        end_time=end,
        location=_text(item, "location", where) or "",
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SeedError(f"{where} must be an object")
    return value


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise SeedError(f"{name} must be a list")
    return value


def _known(item: dict[str, Any], where: str, names: tuple[str, ...]) -> None:
    unknown = sorted(set(item) - set(names))
    if unknown:
        raise SeedError(f"{where} has unknown keys: {', '.join(unknown)}")


def _text(item: dict[str, Any], name: str, where: str, required: bool = False) -> str | None:
    value = item.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SeedError(f"{where}.{name} must be a non-empty string")
    return value.strip()


def _flag(item: dict[str, Any], name: str, where: str, default: bool) -> bool:
    value = item.get(name, default)
    if not isinstance(value, bool):
        raise SeedError(f"{where}.{name} must be true or false")
    return value


def _uuid(value: str, where: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise SeedError(f"{where}.id must be a UUID") from exc


def _moment(item: dict[str, Any], name: str, where: str) -> datetime | None:
    value = item.get(name)
    if isinstance(value, datetime):  # TOML has date-times of its own
        moment = value
    elif value is None:
        return None
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise SeedError(f"{where}.{name} must be an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        raise SeedError(f"{where}.{name} must carry a UTC offset (e.g. Z)")
    return moment


def _workspace_ref(value: str | None, where: str, workspaces: dict[str, UUID]) -> UUID:
    if value is None or value not in workspaces:
        raise SeedError(f"{where}.workspace names no workspace of the seed: {value!r}")
    return workspaces[value]
