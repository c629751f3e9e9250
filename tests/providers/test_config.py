"""ProviderConfig: immutable, and never shows its secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.providers.factories import SECRET, make_config


def test_repr_hides_client_secrets() -> None:
    config = make_config(client_secrets=(SecretStr(SECRET), SecretStr("second-secret-value")))
    assert SECRET not in repr(config)
    assert "second-secret-value" not in repr(config)
    assert SECRET not in str(config)


def test_authorize_params_cannot_be_changed_afterwards() -> None:
    params = {"prompt": "consent"}
    config = make_config(authorize_params=params)
    params["prompt"] = "none"
    assert config.authorize_params["prompt"] == "consent"
    with pytest.raises(TypeError):
        config.authorize_params["prompt"] = "none"  # type: ignore[index]


def test_authorize_params_may_not_replace_core_parameters() -> None:
    with pytest.raises(ValueError, match="redirect_uri"):
        make_config(authorize_params={"redirect_uri": "https://evil.example"})


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_config(client_secrets=())


def test_api_base_url_loses_its_trailing_slash() -> None:
    assert make_config(api_base_url="https://api.example/v1/").api_base_url == (
        "https://api.example/v1"
    )
