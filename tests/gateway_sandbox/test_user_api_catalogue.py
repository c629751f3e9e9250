"""The SDK's reads beyond Contio's reference: fixed, read-only records, the same ids on every read,
found from the lists, 404 for any other id or another workspace's meeting."""

from __future__ import annotations

from typing import Any

from tests.gateway_sandbox.driver import Sandbox


def listed(sandbox: Sandbox, path: str, token: str) -> list[dict[str, Any]]:
    response = sandbox.api(path, token)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"]) and page["offset"] == 0
    items: list[dict[str, Any]] = page["items"]
    return items


def test_each_list_names_records_that_can_be_read_by_id(sandbox: Sandbox, token: str) -> None:
    for path in ("/meeting-templates", "/toolkits", "/workflow-runs", "/sessions"):
        items = listed(sandbox, path, token)
        assert items and listed(sandbox, path, token) == items  # fixed
        for item in items:
            one = sandbox.api(f"{path}/{item['id']}", token)
            assert one.status_code == 200, one.text
            read = one.json()["session"] if path == "/sessions" else one.json()
            assert read == item
        missing = sandbox.api(f"{path}/00000000-0000-4000-8000-000000000000", token)
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_a_chat_sessions_turn_is_read_from_it(sandbox: Sandbox, token: str) -> None:
    [session] = listed(sandbox, "/sessions", token)
    [turn] = sandbox.api(f"/sessions/{session['id']}", token).json()["turns"]
    read = sandbox.api(f"/sessions/{session['id']}/turns/{turn['id']}", token).json()
    assert read == {"turn": turn}


def test_a_meetings_next_steps_buttons_context_and_transcript(sandbox: Sandbox, token: str) -> None:
    meeting = sandbox.api("/meetings", token).json()["items"][0]["id"]
    [step] = listed(sandbox, f"/meetings/{meeting}/next-steps", token)
    result = sandbox.api(f"/next-step-results/{step['latest_result_id']}", token).json()
    assert (result["next_step_id"], result["meeting_id"]) == (step["id"], meeting)
    [button] = listed(sandbox, f"/meetings/{meeting}/action-buttons", token)
    assert step["action_buttons"] == [button]
    [document] = listed(sandbox, f"/meetings/{meeting}/context", token)
    base = f"/meetings/{meeting}/context/{document['id']}"
    assert sandbox.api(base, token).json() == document
    assert sandbox.api(f"{base}/content", token).text.startswith("# ")
    transcript = sandbox.api(f"/meetings/{meeting}/transcript/export", token)
    assert transcript.status_code == 200 and transcript.text


def test_another_workspaces_meeting_and_a_missing_scope_are_refused(sandbox: Sandbox) -> None:
    ann = sandbox.tokens_for("ann@example.com")["access_token"]
    bob = sandbox.tokens_for("bob@example.com")["access_token"]
    meeting = sandbox.api("/meetings", ann).json()["items"][0]["id"]
    assert sandbox.api(f"/meetings/{meeting}/next-steps", bob).status_code == 404
    session = listed(sandbox, "/sessions", ann)[0]["id"]
    assert sandbox.api(f"/sessions/{session}", bob).status_code == 404
    profile_only = sandbox.tokens_for("cy@example.com", scope="profile")["access_token"]
    assert sandbox.api("/toolkits", profile_only).status_code == 403
