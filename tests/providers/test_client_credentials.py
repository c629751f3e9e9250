"""The client-credentials grant's pure parts: the token request's form and how it is kept, and
which grant types are refused with what reason."""

from __future__ import annotations

import pytest

from gateway.providers.client_credentials import (
    TokenRequest,
    check_grant_type,
    require_offered,
)
from gateway.providers.errors import GrantNotSupported


def test_the_form_asks_for_scopes_audience_and_each_resource() -> None:
    request = TokenRequest(
        scopes=("a", "b"), audience="https://api.example", resources=("https://r1/", "https://r2/")
    )

    assert request.form() == {
        "grant_type": "client_credentials",
        "scope": "a b",
        "audience": "https://api.example",
        "resource": ["https://r1/", "https://r2/"],
    }
    assert TokenRequest().form() == {"grant_type": "client_credentials"}


def test_a_request_survives_its_json() -> None:
    request = TokenRequest(scopes=("a",), audience=None, resources=("https://r/",))

    assert TokenRequest.of_json(request.to_json()) == request
    assert TokenRequest.of_json(None) == TokenRequest()


def test_the_password_grant_is_refused_with_the_reason() -> None:
    with pytest.raises(GrantNotSupported) as caught:
        check_grant_type("password")

    assert caught.value.status_code == 400 and caught.value.code == "grant_not_supported"
    assert "RFC 9700" in caught.value.message


def test_an_unknown_grant_and_one_not_offered_are_refused() -> None:
    with pytest.raises(GrantNotSupported):
        check_grant_type("implicit")
    with pytest.raises(GrantNotSupported) as caught:
        require_offered("acme", ("authorization_code",), "client_credentials")
    assert "acme" in caught.value.message
    require_offered("acme", ("client_credentials",), "client_credentials")
