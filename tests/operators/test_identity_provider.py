"""The console's single sign-on settings, and the roles a person's claims give."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.operators.identity_provider import role_of_claims
from gateway.operators.roles import Role
from gateway.settings import Settings, SettingsError, load_settings

BASE = {"GATEWAY_PUBLIC_URL": "https://gateway.example.com"}
SSO = {
    **BASE,
    "GATEWAY_CONSOLE_OIDC_ISSUER": "https://login.example.com",
    "GATEWAY_CONSOLE_OIDC_CLIENT_ID": "gateway-console",
}


def settings(**env: str) -> Settings:
    return load_settings({**SSO, **env})


def test_roles_are_read_as_claim_value_role_pairs() -> None:
    loaded = settings(GATEWAY_CONSOLE_OIDC_ROLES="ops-viewers=viewer, ops admins = security")
    assert loaded.console_oidc_roles == {"ops-viewers": "viewer", "ops admins": "security"}


@pytest.mark.parametrize("roles", ["ops=root", "ops", "=viewer"])
def test_a_mapping_to_no_known_role_stops_start_up(roles: str) -> None:
    with pytest.raises((SettingsError, ValueError)):
        settings(GATEWAY_CONSOLE_OIDC_ROLES=roles)


def test_an_issuer_needs_a_client_id() -> None:
    with pytest.raises((SettingsError, ValueError)):
        load_settings({**BASE, "GATEWAY_CONSOLE_OIDC_ISSUER": "https://login.example.com"})


def test_the_client_secret_is_read_from_a_file_and_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "oidc"
    secret.write_text("s3cret-value\n")
    loaded = settings(GATEWAY_CONSOLE_OIDC_CLIENT_SECRET_FILE=str(secret))
    assert loaded.console_oidc_client_secret is not None
    assert loaded.console_oidc_client_secret.get_secret_value().strip() == "s3cret-value"
    assert "s3cret" not in repr(loaded)


def test_the_break_glass_is_on_unless_turned_off() -> None:
    assert settings().console_break_glass is True
    assert settings(GATEWAY_CONSOLE_BREAK_GLASS="false").console_break_glass is False


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"groups": ["staff", "ops-support"]}, Role.SUPPORT),
        ({"groups": ["ops-viewers", "ops-admins"]}, Role.SECURITY),
        ({"groups": "ops-viewers"}, Role.VIEWER),
        ({"groups": ["staff"]}, None),
        ({"groups": []}, None),
        ({"groups": [7, None]}, None),
        ({}, None),
    ],
)
def test_the_highest_mapped_role_counts_and_no_mapping_gives_none(
    claims: dict[str, object], role: Role | None
) -> None:
    mapping = "ops-viewers=viewer,ops-support=support,ops-admins=security"
    assert role_of_claims(claims, settings(GATEWAY_CONSOLE_OIDC_ROLES=mapping)) == role


def test_the_role_claim_is_a_setting() -> None:
    loaded = settings(
        GATEWAY_CONSOLE_OIDC_ROLE_CLAIM="roles", GATEWAY_CONSOLE_OIDC_ROLES="admin=operator"
    )
    assert role_of_claims({"roles": ["admin"], "groups": ["x"]}, loaded) == Role.OPERATOR
