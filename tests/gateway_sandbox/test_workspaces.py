"""Personal and shared workspaces: roles in the profile, one workspace's data for all its members."""

from __future__ import annotations

import pytest

from gateway_sandbox.seed import ACME
from tests.gateway_sandbox.driver import Sandbox


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("olivia@acme.example", "WORKSPACE_OWNER"),
        ("adam@acme.example", "WORKSPACE_ADMIN"),
        ("mia@acme.example", "WORKSPACE_MEMBER"),
    ],
)
def test_the_seeded_shared_workspace_shows_each_role(
    sandbox: Sandbox, email: str, role: str
) -> None:
    profile = sandbox.api("/profile", sandbox.writer(email)).json()

    assert profile["workspace_id"] == str(ACME.id)
    assert profile["workspace_name"] == "Acme Team"
    assert profile["workspace_role"] == role


def test_members_of_a_shared_workspace_see_the_same_meetings(sandbox: Sandbox) -> None:
    olivia = sandbox.writer("olivia@acme.example")
    mia = sandbox.writer("mia@acme.example")
    created = sandbox.call("POST", "/meetings", mia, {"title": "Mia's sync"}).json()

    olivias = sandbox.api("/meetings", olivia, limit="100").json()
    mias = sandbox.api("/meetings", mia, limit="100").json()

    assert olivias == mias
    assert created["id"] in {m["id"] for m in olivias["items"]}
    assert {m["workspace_id"] for m in olivias["items"]} == {str(ACME.id)}


def test_other_workspaces_cannot_see_or_change_a_meeting(sandbox: Sandbox) -> None:
    mia = sandbox.writer("mia@acme.example")
    ann = sandbox.writer("ann@example.com")
    meeting = sandbox.call("POST", "/meetings", mia, {"title": "Acme only"}).json()

    assert sandbox.api(f"/meetings/{meeting['id']}", ann).status_code == 404
    assert (
        sandbox.call("PATCH", f"/meetings/{meeting['id']}", ann, {"title": "x"}).status_code == 404
    )
    assert sandbox.api(f"/meetings/{meeting['id']}/participants", ann).status_code == 404
    item = sandbox.call("POST", "/action-items", ann, {"meeting_id": meeting["id"], "title": "t"})
    assert item.status_code == 404


def test_action_items_of_another_workspace_are_404(sandbox: Sandbox) -> None:
    mia = sandbox.writer("mia@acme.example")
    ann = sandbox.writer("ann@example.com")
    item = sandbox.api("/action-items", mia).json()["items"][0]

    assert sandbox.api(f"/action-items/{item['id']}", ann).status_code == 404
    assert sandbox.call("DELETE", f"/action-items/{item['id']}", ann).status_code == 404


def test_a_provisioned_member_joins_the_workspace_count(sandbox: Sandbox) -> None:
    sandbox.initiate("new@acme.example", workspace_id=str(ACME.id))

    listed = sandbox.admin("GET", "/workspaces").json()["items"]

    acme = next(w for w in listed if w["workspace_id"] == str(ACME.id))
    assert acme["user_count"] == 4
    assert set(acme) == {"workspace_id", "workspace_name", "provisioned_at", "user_count"}
