"""The store as in-process tests use it through ``app.state.sandbox``."""

from __future__ import annotations

from gateway_sandbox.state.store import DEMO_EMAIL
from tests.gateway_sandbox.driver import Sandbox


def test_the_demo_user_is_seeded(sandbox: Sandbox) -> None:
    user = sandbox.store.user_by_email(DEMO_EMAIL)

    assert user is not None
    assert user.name == "Demo User"


def test_issued_tokens_lists_every_access_and_refresh_token(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    second = sandbox.refresh(first["refresh_token"]).json()

    issued = set(sandbox.store.issued_tokens())

    assert issued == {
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
    }


def test_user_lookup_by_email_ignores_case(sandbox: Sandbox) -> None:
    sandbox.consent("ann@example.com")

    user = sandbox.store.user_by_email("  ANN@Example.com ")

    assert user is not None
    assert sandbox.store.user_by_id(user.id) == user


def test_revoke_user_revokes_every_grant_of_that_user_only(sandbox: Sandbox) -> None:
    ann_1 = sandbox.tokens_for("ann@example.com")
    ann_2 = sandbox.tokens_for("ann@example.com")
    bob = sandbox.tokens_for("bob@example.com")

    assert sandbox.store.revoke_user("ann@example.com") == 2

    assert sandbox.api("/profile", ann_1["access_token"]).status_code == 401
    assert sandbox.api("/profile", ann_2["access_token"]).status_code == 401
    assert sandbox.api("/profile", bob["access_token"]).status_code == 200
    assert all(grant.revoked_at is not None for grant in sandbox.store.grants("ann@example.com"))


def test_revoke_user_of_an_unknown_email_revokes_nothing(sandbox: Sandbox) -> None:
    assert sandbox.store.revoke_user("nobody@example.com") == 0


def test_records_holding_secrets_do_not_print_them(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    live = sandbox.store.authenticate(tokens["access_token"])

    assert live is not None
    assert tokens["access_token"] not in repr(live)
    assert tokens["access_token"] not in repr(live.token)
