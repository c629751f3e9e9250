"""What the console keeps of the identity provider's tokens: as little as will fit in a cookie, sealed."""

from __future__ import annotations

from pydantic import SecretStr

from gateway.console.sso_tokens import ID_TOKEN_MAX_CHARS, ProviderTokens
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.providers import TokenSet


def answer(*, refresh: str | None, id_token: str | None) -> TokenSet:
    return TokenSet(
        access_token=SecretStr("at"),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_in=300,
        scopes=None,
        id_token=SecretStr(id_token) if id_token else None,
        token_type="Bearer",
    )


def test_the_access_token_is_kept_only_without_a_refresh_token() -> None:
    assert ProviderTokens.of(answer(refresh="rt", id_token="a.b.c")).access_token is None
    assert ProviderTokens.of(answer(refresh=None, id_token="a.b.c")).access_token == "at"


def test_an_id_token_too_large_for_a_cookie_is_left_out() -> None:
    large = "x" * (ID_TOKEN_MAX_CHARS + 1)
    assert ProviderTokens.of(answer(refresh="rt", id_token=large)).id_token is None


def test_a_refresh_answer_without_an_id_token_keeps_the_last_one() -> None:
    first = ProviderTokens.of(answer(refresh="rt", id_token="a.b.c"))
    assert (
        ProviderTokens.of(answer(refresh="rt2", id_token=None), previous=first).id_token == "a.b.c"
    )


def test_sealed_tokens_open_for_their_subject_only_and_never_show() -> None:
    keys = KeyRing.parse(generate_key_entry("k1"))
    tokens = ProviderTokens.of(answer(refresh="the-refresh-token", id_token="a.b.c"))
    sealed = tokens.seal(keys, "alice")
    assert "the-refresh-token" not in sealed and "the-refresh-token" not in repr(tokens)
    assert ProviderTokens.open(sealed, keys, "alice") == tokens
    assert ProviderTokens.open(sealed, keys, "mallory") is None
