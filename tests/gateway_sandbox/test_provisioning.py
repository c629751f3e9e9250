"""Partner-auth provisioning: /auth/initiate, the code outbox and /auth/verify (reference §3)."""

from __future__ import annotations

import uuid

import pytest

from gateway_sandbox.seed import ACME, GLOBEX
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Sandbox


def test_initiate_provisions_a_new_user_and_sends_a_six_digit_code(sandbox: Sandbox) -> None:
    response = sandbox.initiate("new@example.com", name="New Person")

    assert response.status_code == 200
    body = response.json()
    assert body["session"].startswith("AYAB")
    assert body["challenge_name"] == "CUSTOM_CHALLENGE"
    assert body["challenge_params"] == {}
    assert body["user_provisioned"] is True
    (message,) = sandbox.http.get("/_sandbox/outbox", params={"email": "new@example.com"}).json()[
        "messages"
    ]
    assert message["email"] == "new@example.com"
    assert len(message["code"]) == 6 and message["code"].isdigit()
    assert message["sent_at"].endswith("Z")
    user = sandbox.store.user_by_email("new@example.com")
    assert user is not None and user.name == "New Person"


def test_initiating_for_an_existing_user_does_not_provision_again(sandbox: Sandbox) -> None:
    sandbox.initiate("new@example.com")

    assert sandbox.initiate("new@example.com").json()["user_provisioned"] is False
    assert sandbox.initiate("demo@example.com").json()["user_provisioned"] is False


def test_without_a_workspace_the_user_owns_a_personal_one(sandbox: Sandbox) -> None:
    sandbox.initiate("solo@example.com", is_admin=True)  # is_admin means nothing without one

    user = sandbox.store.user_by_email("solo@example.com")

    assert user is not None
    assert user.workspace_role == "WORKSPACE_OWNER"
    assert sandbox.store.workspace(user.workspace_id).name == "Solo's Workspace"


@pytest.mark.parametrize(
    ("is_admin", "role"),
    [(True, "WORKSPACE_ADMIN"), (False, "WORKSPACE_MEMBER"), (None, "WORKSPACE_MEMBER")],
)
def test_joining_a_shared_workspace_gives_the_asked_role(
    sandbox: Sandbox, is_admin: bool | None, role: str
) -> None:
    fields = {"workspace_id": str(ACME.id)}
    if is_admin is not None:
        fields["is_admin"] = is_admin  # type: ignore[assignment]

    assert sandbox.initiate("joiner@example.com", **fields).status_code == 200

    user = sandbox.store.user_by_email("joiner@example.com")
    assert user is not None
    assert (user.workspace_id, user.workspace_role) == (ACME.id, role)


def test_a_personal_workspace_of_the_partner_can_be_joined(sandbox: Sandbox) -> None:
    sandbox.initiate("first@example.com")
    first = sandbox.store.user_by_email("first@example.com")
    assert first is not None

    response = sandbox.initiate("second@example.com", workspace_id=str(first.workspace_id))

    assert response.status_code == 200
    second = sandbox.store.user_by_email("second@example.com")
    assert second is not None and second.workspace_id == first.workspace_id


def test_an_unknown_workspace_is_404_workspace_not_found(sandbox: Sandbox) -> None:
    response = sandbox.initiate("x@example.com", workspace_id=str(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["code"] == "workspace_not_found"
    assert sandbox.store.user_by_email("x@example.com") is None


def test_another_partners_workspace_is_403_workspace_not_authorized(sandbox: Sandbox) -> None:
    response = sandbox.initiate("x@example.com", workspace_id=str(GLOBEX.id))

    assert response.status_code == 403
    assert response.json()["code"] == "workspace_not_authorized"
    assert sandbox.store.user_by_email("x@example.com") is None


def test_a_user_of_another_workspace_is_409_naming_their_workspace(sandbox: Sandbox) -> None:
    demo = sandbox.store.user_by_email("demo@example.com")
    assert demo is not None

    response = sandbox.initiate("demo@example.com", workspace_id=str(ACME.id))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "workspace_conflict"
    assert body["workspace_id"] == str(demo.workspace_id)
    assert set(body) == {"code", "error", "message", "request_id", "workspace_id"}


def test_a_member_initiating_for_their_own_workspace_keeps_their_role(sandbox: Sandbox) -> None:
    response = sandbox.initiate("mia@acme.example", workspace_id=str(ACME.id), is_admin=True)

    assert response.status_code == 200
    user = sandbox.store.user_by_email("mia@acme.example")
    assert user is not None and user.workspace_role == "WORKSPACE_MEMBER"


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-email"},
        {"workspace_id": "not-a-uuid"},
        {"is_admin": "yes"},
        {"name": 42},
        {"client_id": ""},
    ],
)
def test_a_malformed_initiate_is_400_invalid_request(
    sandbox: Sandbox, fields: dict[str, object]
) -> None:
    response = sandbox.initiate(str(fields.pop("email", "ok@example.com")), **fields)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_initiate_needs_the_partners_basic_credentials(sandbox: Sandbox) -> None:
    body = {"client_id": "sandbox-client", "email": "x@example.com"}

    without = sandbox.http.post("/auth/initiate", json=body)
    wrong = sandbox.http.post("/auth/initiate", json=body, auth=("sandbox-client", "nope"))
    other = sandbox.http.post(
        "/auth/initiate", json={**body, "client_id": "other"}, auth=sandbox.client_auth
    )

    assert [r.status_code for r in (without, wrong, other)] == [401, 401, 400]
    assert without.json()["code"] == "invalid_client"


def test_the_right_code_verifies_once(sandbox: Sandbox) -> None:
    session = sandbox.initiate("new@example.com").json()["session"]
    code = sandbox.last_code("new@example.com")

    first = sandbox.verify("new@example.com", session, code)
    again = sandbox.verify("new@example.com", session, code)

    assert first.status_code == 200
    assert first.json() == {"success": True, "message": "The code is verified.", "redirect": None}
    assert "access_token" not in first.json()
    assert again.status_code == 400
    assert (again.json()["code"], again.json()["reason"]) == ("invalid_code", "used")


def test_a_wrong_code_is_invalid_code_with_attempts_remaining(sandbox: Sandbox) -> None:
    session = sandbox.initiate("new@example.com").json()["session"]
    wrong = "000000" if sandbox.last_code("new@example.com") != "000000" else "111111"

    response = sandbox.verify("new@example.com", session, wrong)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["reason"], body["attempts_remaining"]) == (
        "invalid_code",
        "mismatch",
        4,
    )


def test_the_fifth_wrong_code_closes_the_challenge(sandbox: Sandbox) -> None:
    session = sandbox.initiate("new@example.com").json()["session"]
    code = sandbox.last_code("new@example.com")
    wrong = "000000" if code != "000000" else "111111"

    answers = [sandbox.verify("new@example.com", session, wrong).json() for _ in range(5)]
    after = sandbox.verify("new@example.com", session, code)

    assert [a["attempts_remaining"] for a in answers] == [4, 3, 2, 1, 0]
    assert answers[-1]["reason"] == "exhausted"
    assert after.status_code == 400
    assert after.json()["reason"] == "exhausted"


def test_a_code_expires_after_otp_ttl(start_sandbox: SandboxFactory, clock: FakeClock) -> None:
    sandbox = start_sandbox(otp_ttl=180)
    session = sandbox.initiate("new@example.com").json()["session"]
    code = sandbox.last_code("new@example.com")
    clock.advance(180)

    response = sandbox.verify("new@example.com", session, code)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["reason"]) == ("invalid_code", "expired")


def test_a_code_is_good_until_just_before_otp_ttl(
    start_sandbox: SandboxFactory, clock: FakeClock
) -> None:
    sandbox = start_sandbox(otp_ttl=10)
    session = sandbox.initiate("new@example.com").json()["session"]
    clock.advance(9.9)

    assert (
        sandbox.verify("new@example.com", session, sandbox.last_code("new@example.com")).status_code
        == 200
    )


def test_each_initiate_sends_a_new_code_and_the_outbox_keeps_them_all(sandbox: Sandbox) -> None:
    first = sandbox.initiate("new@example.com").json()["session"]
    second = sandbox.initiate("new@example.com").json()["session"]
    sandbox.initiate("other@example.com")

    mine = sandbox.http.get("/_sandbox/outbox", params={"email": "NEW@example.com"}).json()
    everything = sandbox.http.get("/_sandbox/outbox").json()

    assert first != second
    assert len(mine["messages"]) == 2
    assert len(everything["messages"]) == 3
    assert sandbox.store.stats()["codes_sent"] == 3


def test_the_outbox_can_be_emptied(sandbox: Sandbox) -> None:
    sandbox.initiate("new@example.com")

    assert sandbox.http.delete("/_sandbox/outbox").json() == {"messages": []}
    assert sandbox.http.get("/_sandbox/outbox").json() == {"messages": []}


def test_a_session_of_another_email_or_unknown_is_invalid_request(sandbox: Sandbox) -> None:
    session = sandbox.initiate("new@example.com").json()["session"]
    code = sandbox.last_code("new@example.com")

    other = sandbox.verify("other@example.com", session, code)
    unknown = sandbox.verify("new@example.com", "AYABnope", code)

    assert (other.status_code, other.json()["code"]) == (400, "invalid_request")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_request")
