"""Settings: environment, secret files, comma lists, and clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings


def test_lists_are_comma_separated(tmp_path: Path) -> None:
    settings = load_settings({"GATEWAY_ALLOWED_RETURN_URLS": "https://a/x, https://b/y"})
    assert settings.allowed_return_urls == ("https://a/x", "https://b/y")


def test_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret\n")
    settings = load_settings({"GATEWAY_CONTIO_CLIENT_SECRET_FILE": str(secret)})
    assert settings.contio_client_secret is not None
    assert settings.contio_client_secret.get_secret_value() == "s3cret"


def test_secret_set_both_ways_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "k"
    secret.write_text("x")
    with pytest.raises(SettingsError, match="not both"):
        load_settings({"GATEWAY_ENCRYPTION_KEYS": "x", "GATEWAY_ENCRYPTION_KEYS_FILE": str(secret)})


def test_unreadable_secret_file_is_reported() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_ENCRYPTION_KEYS_FILE"):
        load_settings({"GATEWAY_ENCRYPTION_KEYS_FILE": "/nonexistent/key"})


def test_secrets_print_masked() -> None:
    settings = load_settings(
        {"GATEWAY_CONTIO_CLIENT_SECRET": "s3cret", "GATEWAY_DATABASE_URL": "postgresql://u:pw@h/db"}
    )
    assert "s3cret" not in repr(settings) and "pw@" not in repr(settings)


def test_missing_secrets_are_named_in_one_message() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_ENCRYPTION_KEYS"):
        load_settings({}).require("encryption_keys")


def test_no_secret_has_a_default() -> None:
    settings = load_settings({})
    assert settings.encryption_keys is None
    assert settings.contio_client_secret is None
    assert settings.database_url is None
