"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3.1).

Both ``client_secret_basic`` (what Contio's SDK sends) and ``client_secret_post`` are accepted;
using both at once is refused. Every secret in ``SandboxOptions.client_secrets`` is valid. A sandbox
emulating another provider may instead take ``private_key_jwt`` assertions (``client_assertion``)
or, for a public client, the ``client_id`` alone (``client_authentication``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote_plus

from starlette.datastructures import FormData
from starlette.requests import Request

from gateway_sandbox.client_assertions import ASSERTION_TYPE, AssertionRefused
from gateway_sandbox.errors import OAuthError
from gateway_sandbox.oauth.discovery import issuer_for
from gateway_sandbox.oauth.forms import form_field
from gateway_sandbox.options import SandboxOptions
from gateway_sandbox.state.store import SandboxStore

CHALLENGE = {"WWW-Authenticate": 'Basic realm="contio-sandbox"'}
TOKEN_PATH = "/oauth2/token"


async def authenticate_token_client(request: Request, form: FormData, store: SandboxStore) -> str:
    """The client's id by the way this sandbox's client authenticates; ``OAuthError`` otherwise."""
    options = store.options
    if options.client_authentication == "secret":
        return authenticate_client(request, form, options)
    posted_id = form_field(form, "client_id")
    if "authorization" in request.headers or form_field(form, "client_secret") is not None:
        raise _invalid_client(f"This client authenticates with {options.client_authentication}.")
    if options.client_authentication == "none":
        if posted_id != options.client_id:
            raise _invalid_client("Unknown client_id.")
        return options.client_id
    if form_field(form, "client_assertion_type") != ASSERTION_TYPE:
        raise _invalid_client(f"client_assertion_type must be {ASSERTION_TYPE}.")
    assertion = form_field(form, "client_assertion")
    if assertion is None or (posted_id is not None and posted_id != options.client_id):
        raise _invalid_client("A client_assertion for the registered client is required.")
    issuer = issuer_for(request, options)
    assert store.client_assertions is not None  # SandboxOptions makes sure of it
    try:
        await store.client_assertions.verify(assertion, (f"{issuer}{TOKEN_PATH}", issuer))
    except AssertionRefused as exc:
        store.counters.add("assertions_refused")
        raise _invalid_client(str(exc)) from exc
    return options.client_id


def authenticate_client(request: Request, form: FormData, options: SandboxOptions) -> str:
    """The authenticated client's id, or ``OAuthError`` (401 ``invalid_client``)."""
    basic = _basic_credentials(request)
    posted_id, posted_secret = form_field(form, "client_id"), form_field(form, "client_secret")
    if basic is not None:
        if posted_secret is not None:
            raise OAuthError("invalid_request", "Use one client authentication method, not two.")
        if posted_id is not None and posted_id not in (basic[0], unquote_plus(basic[0])):
            raise OAuthError("invalid_request", "client_id differs from the Authorization header.")
        # RFC 6749 form-encodes both before base64; Contio's SDK does not. Either is accepted.
        candidates = [basic, (unquote_plus(basic[0]), unquote_plus(basic[1]))]
    elif posted_id is not None and posted_secret is not None:
        candidates = [(posted_id, posted_secret)]
    else:
        raise _invalid_client("Client authentication is required.")
    for client_id, secret in candidates:
        if client_id == options.client_id and _secret_matches(secret, options.client_secrets):
            return client_id
    raise _invalid_client("Client authentication failed.")


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("Only Basic client authentication is supported in the header.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_client("Malformed Basic credentials.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client("Malformed Basic credentials.")
    return client_id, secret


def _secret_matches(secret: str, accepted: tuple[str, ...]) -> bool:
    matches = [hmac.compare_digest(secret.encode(), good.encode()) for good in accepted]
    return any(matches)


def _invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401, CHALLENGE)
