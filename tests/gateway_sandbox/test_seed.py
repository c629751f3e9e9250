"""Seeded workspaces, users and meetings: the defaults, and --seed FILE in JSON or TOML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway_sandbox import seed
from gateway_sandbox.seed import ACME, DEFAULT, GLOBEX, SeedError
from tests.gateway_sandbox.conftest import SandboxFactory

TOML = """
[[workspaces]]
name = "Initech"
sample_data = false

[[users]]
email = "Peter@Initech.example"
name = "Peter Gibbons"
workspace = "Initech"
role = "WORKSPACE_OWNER"
timezone = "America/Chicago"

[[users]]
email = "milton@initech.example"
workspace = "Initech"

[[meetings]]
workspace = "Initech"
title = "TPS reports"
start_time = 2026-05-04T09:00:00Z
end_time = 2026-05-04T09:30:00Z
action_items = [{title = "Use the new cover sheet", due_date = "2026-05-08"}]

[[meetings]]
workspace = "Initech"
title = "Someday"

[[calendar_events]]
workspace = "Initech"
title = "Planning"
start_time = "2026-05-05T10:00:00Z"
end_time = "2026-05-05T11:00:00Z"
location = "Basement"
"""


def test_the_default_seed_names_its_users_and_workspaces() -> None:
    assert [u.email for u in DEFAULT.users] == [
        "demo@example.com", "olivia@acme.example", "adam@acme.example", "mia@acme.example",
        "gus@globex.example",
    ]  # fmt: skip
    assert [w.name for w in DEFAULT.workspaces] == ["Acme Team", "Globex (another partner)"]
    assert (ACME.partner, GLOBEX.partner) == (None, "other-partner")


def test_a_toml_seed_replaces_the_defaults(start_sandbox: SandboxFactory, tmp_path: Path) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(TOML)
    sandbox = start_sandbox(seed=seed.load(path))

    peter = sandbox.store.user_by_email("peter@initech.example")
    milton = sandbox.store.user_by_email("milton@initech.example")

    assert sandbox.store.user_by_email("demo@example.com") is None
    assert peter is not None and milton is not None
    assert (peter.name, peter.workspace_role, peter.timezone) == (
        "Peter Gibbons", "WORKSPACE_OWNER", "America/Chicago",
    )  # fmt: skip
    assert (milton.name, milton.workspace_role) == ("Milton", "WORKSPACE_MEMBER")
    assert milton.workspace_id == peter.workspace_id


def test_seeded_meetings_and_events_replace_the_sample_data(
    start_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(TOML)
    sandbox = start_sandbox(seed=seed.load(path))
    token = sandbox.writer("milton@initech.example")

    meetings = sandbox.api("/meetings", token).json()["items"]
    items = sandbox.api("/action-items", token).json()["items"]
    events = sandbox.api(
        "/calendar/events", token, start_date="2026-01-01", end_date="2027-01-01"
    ).json()

    assert sorted((m["title"], m["status"]) for m in meetings) == [
        ("Someday", "draft"), ("TPS reports", "completed"),
    ]  # fmt: skip
    assert [(i["title"], i["due_date"]) for i in items] == [
        ("Use the new cover sheet", "2026-05-08")
    ]
    assert [(e["title"], e["location"]) for e in events["items"]] == [("Planning", "Basement")]


def test_a_json_seed_is_read_too(start_sandbox: SandboxFactory, tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"users": [{"email": "solo@example.com"}]}))
    sandbox = start_sandbox(seed=seed.load(path))

    solo = sandbox.store.user_by_email("solo@example.com")

    assert solo is not None and solo.workspace_role == "WORKSPACE_OWNER"
    assert sandbox.api("/meetings", sandbox.writer("solo@example.com")).json()["total"] == 30


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "the seed must be an object"),
        ({"people": []}, "unknown keys: people"),
        ({"users": [{"name": "x"}]}, "users[0].email"),
        ({"users": [{"email": "a@x.example"}, {"email": "a@x.example"}]}, "unique"),
        ({"users": [{"email": "a@x.example", "workspace": "Nowhere"}]}, "names no workspace"),
        ({"users": [{"email": "a@x.example", "role": "KING"}]}, "role must be one of"),
        ({"workspaces": [{"name": "W", "id": "nope"}]}, "must be a UUID"),
        (
            {
                "workspaces": [{"name": "W"}],
                "meetings": [
                    {"workspace": "W", "title": "t", "start_time": "2026-01-01T10:00:00Z"}
                ],
            },
            "both start_time and end_time",
        ),
        (
            {
                "workspaces": [{"name": "W"}],
                "meetings": [
                    {
                        "workspace": "W",
                        "title": "t",
                        "start_time": "2026-01-01T10:00:00",
                        "end_time": "2026-01-01T11:00:00",
                    }
                ],
            },
            "UTC offset",
        ),
        (
            {
                "workspaces": [{"name": "W"}],
                "meetings": [
                    {
                        "workspace": "W",
                        "title": "t",
                        "action_items": [{"title": "x", "status": "meh"}],
                    }
                ],
            },
            "status must be one of",
        ),
    ],
)
def test_mistakes_in_a_seed_are_named(raw: Any, message: str) -> None:
    with pytest.raises(SeedError, match=message.replace("[", r"\[").replace("]", r"\]")):
        seed.parse(raw)


def test_an_unreadable_file_is_a_seed_error(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text("{not json")

    with pytest.raises(SeedError, match="cannot read"):
        seed.load(path)
