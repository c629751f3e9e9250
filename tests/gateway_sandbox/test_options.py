from __future__ import annotations

import pytest

from gateway_sandbox import SandboxOptions


def test_defaults_match_contio_lifetimes() -> None:
    options = SandboxOptions()

    assert options.client_id == "sandbox-client"
    assert options.client_secrets == ("sandbox-secret",)
    assert options.redirect_uris == ("http://127.0.0.1:8000/oauth/callback",)
    assert options.auto_approve is False
    assert options.code_ttl == 300
    assert options.access_token_ttl == 86400
    assert options.refresh_token_ttl == 30 * 86400
    assert options.issuer is None


def test_repr_hides_the_client_secrets() -> None:
    text = repr(SandboxOptions(client_secrets=("s3cr3t-one", "s3cr3t-two")))

    assert "s3cr3t" not in text
    assert "client_secrets=***" in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": ""},
        {"client_secrets": ()},
        {"client_secrets": ("",)},
        {"redirect_uris": ()},
        {"code_ttl": 0},
        {"access_token_ttl": -1},
    ],
)
def test_unusable_options_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        SandboxOptions(**overrides)  # type: ignore[arg-type]
