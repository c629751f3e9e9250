"""How the gateway authenticates as the provider's client on its token, revocation and
introspection endpoints: the profile's ``token_endpoint_auth_method``.

- ``client_secret_basic`` (RFC 6749 §2.3.1): HTTP Basic with the client id and secret;
- ``client_secret_post``: both in the form;
- ``private_key_jwt`` (RFC 7523 §2.2): ``client_id`` and a fresh signed assertion in the form;
- ``none`` (a public client, RFC 6749 §2.1): ``client_id`` only; PKCE protects the code.
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

from pydantic import SecretStr

from gateway.providers.client_key import ASSERTION_TYPE
from gateway.providers.config import ProviderConfig

Credentials = tuple[dict[str, str], dict[str, str]]


def credentials(config: ProviderConfig) -> tuple[SecretStr | None, ...]:
    """What each attempt authenticates with: every secret in turn (a rotation's overlap), or once
    with none for the methods that use no secret."""
    return config.client_secrets or (None,)


def client_authentication(config: ProviderConfig, secret: SecretStr | None) -> Credentials:
    """The headers and the form fields that authenticate one request as ``config``'s client."""
    method = config.token_endpoint_auth_method
    if method == "client_secret_basic":
        assert secret is not None  # ProviderConfig makes sure a secret method has secrets
        return {"Authorization": basic_auth(config.client_id, secret.get_secret_value())}, {}
    if method == "client_secret_post":
        assert secret is not None
        return {}, {"client_id": config.client_id, "client_secret": secret.get_secret_value()}
    if method == "private_key_jwt":
        assert config.client_key is not None  # ProviderConfig makes sure of it
        assertion = config.client_key.assertion(config.client_id, config.token_url)
        return {}, {
            "client_id": config.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
    return {}, {"client_id": config.client_id}


def basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined and encoded.
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")
