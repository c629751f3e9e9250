"""Reading token responses into a TokenSet."""

from __future__ import annotations

import pytest

from gateway.providers import ProviderError, TokenSet

FULL = {
    "access_token": "cto_at_v1_secret-access",
    "refresh_token": "cto_rt_v1_secret-refresh",
    "id_token": "header.payload.signature-secret",
    "token_type": "Bearer",
    "expires_in": 86400,
    "scope": "openid profile meetings:read",
}


def test_full_response_is_read() -> None:
    tokens = TokenSet.from_response(FULL, provider="contio")
    assert tokens.access_token.get_secret_value() == FULL["access_token"]
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == FULL["refresh_token"]
    assert tokens.id_token is not None
    assert tokens.expires_in == 86400
    assert tokens.scopes == ("openid", "profile", "meetings:read")
    assert tokens.token_type == "Bearer"


def test_absent_optional_fields_are_none() -> None:
    tokens = TokenSet.from_response({"access_token": "at", "token_type": "bearer"}, provider="p")
    assert (tokens.refresh_token, tokens.expires_in, tokens.scopes, tokens.id_token) == (
        None,
        None,
        None,
        None,
    )
    assert tokens.token_type == "bearer"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3600, 3600), ("3600", 3600), ("3600.0", 3600), (59.9, 59), ("soon", None), (-1, None),
     (True, None), ("inf", None), (None, None)],
)  # fmt: skip
def test_expires_in_accepts_numbers_and_numeric_strings(
    value: object, expected: int | None
) -> None:
    tokens = TokenSet.from_response({"access_token": "at", "expires_in": value}, provider="p")
    assert tokens.expires_in == expected


def test_empty_scope_string_means_no_scopes() -> None:
    tokens = TokenSet.from_response({"access_token": "at", "scope": ""}, provider="p")
    assert tokens.scopes == ()


@pytest.mark.parametrize("body", [None, [], "text", {"access_token": ""}, {"access_token": 1}])
def test_a_response_without_access_token_is_refused(body: object) -> None:
    with pytest.raises(ProviderError):
        TokenSet.from_response(body, provider="p")


def test_repr_hides_every_token() -> None:
    text = repr(TokenSet.from_response(FULL, provider="contio"))
    assert "secret" not in text
    assert text.count("**********") == 3
