"""The role table: each role holds its own permissions and every lower role's, and no more."""

from __future__ import annotations

import pytest

from gateway.operators.roles import (
    LEAST_ROLE,
    Permission,
    Role,
    permissions,
    permits,
    role_of_scopes,
)


def test_every_permission_has_a_least_role() -> None:
    assert set(LEAST_ROLE) == set(Permission)


@pytest.mark.parametrize("role", list(Role))
def test_a_role_holds_what_every_lower_role_holds(role: Role) -> None:
    for lower in (r for r in Role if r < role):
        assert permissions(lower) <= permissions(role)


def test_the_roles_as_the_issue_lists_them() -> None:
    assert permissions(Role.VIEWER) == {
        Permission.READ_CONNECTIONS,
        Permission.READ_AUDIT,
        Permission.READ_EVENT_METADATA,
    }
    assert permissions(Role.SUPPORT) - permissions(Role.VIEWER) == {
        Permission.REFRESH_CONNECTIONS,
        Permission.PAUSE_CONNECTIONS,
        Permission.READ_EVENT_PAYLOADS,
        Permission.RESEND_EVENTS,
    }
    assert permissions(Role.OPERATOR) - permissions(Role.SUPPORT) == {
        Permission.MANAGE_CONNECTIONS,
        Permission.REVOKE_CONNECTIONS,
        Permission.MANAGE_CLIENTS,
        Permission.MANAGE_SUBSCRIPTIONS,
    }
    assert permissions(Role.SECURITY) == set(Permission)


def test_no_role_holds_nothing() -> None:
    assert permissions(None) == frozenset()
    assert not permits(None, Permission.READ_CONNECTIONS)


@pytest.mark.parametrize(
    ("scopes", "role"),
    [
        (["proxy"], None),
        (["admin"], Role.SECURITY),
        (["proxy", "viewer"], Role.VIEWER),
        (["support", "operator"], Role.OPERATOR),
        (["viewer", "admin"], Role.SECURITY),
    ],
)
def test_a_keys_role_is_the_highest_its_scopes_name(scopes: list[str], role: Role | None) -> None:
    assert role_of_scopes(scopes) is role
