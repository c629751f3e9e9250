"""What the connection page says of how an API key travels: as its provider's ``auth_header``
says, the key itself never shown."""

from __future__ import annotations

from gateway.console.views import auth_details
from gateway.models import AuthMode, Connection
from gateway.providers.credential_profile import CredentialProfile
from gateway.providers.profile import BEARER, AuthHeader

PROFILE = CredentialProfile("api_key", None, None)


def sent_as(auth: AuthHeader) -> str:
    connection = Connection(auth_mode=AuthMode.API_KEY, provider_settings={})
    [sent, _verification] = auth_details(connection, PROFILE, auth)
    assert sent.key == "sent-as"
    return sent.value


def test_an_api_key_is_shown_as_sent_where_auth_header_says() -> None:
    assert sent_as(BEARER) == "Authorization: Bearer <the API key>"
    assert sent_as(AuthHeader(query_param="appid")) == "?appid=<the API key>"
    assert sent_as(AuthHeader(header="X-Api-Key", scheme="")) == "X-Api-Key: <the API key>"
