"""Stored credentials at the provider's boundary: what a provider that takes them says about them
(its profile: which kind, the header it reads, the request that checks one), the one place a
credential becomes the header or query parameter sent upstream (``injected``), and the
verification request.

A stored credential is an API key (sent as an OAuth access token is: ``Authorization: Bearer <key>``
unless the provider's ``auth_header`` says otherwise), a basic credential
(``Authorization: Basic``, RFC 7617) or a header's value (sent in the header the profile names). It
is kept sealed on its connection (``tokens.grant``) and opened only to be sent to its provider.
Verification errors never carry the credential: the provider's answer is cut short, made printable,
and any echo of the secret in it is starred out.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import SecretStr

from gateway.exceptions import UnprocessableContent
from gateway.providers.errors import ProviderUnavailable, transport_error
from gateway.providers.profile import BEARER, AuthHeader

CredentialKind = Literal["api_key", "basic", "header"]
KINDS: tuple[CredentialKind, ...] = ("api_key", "basic", "header")
VerificationMethod = Literal["GET", "HEAD", "POST"]
EXCERPT_LIMIT = 200
# A header name (RFC 9110 token) the gateway does not set itself.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "x-request-id", "user-agent"}
)
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_PASSWORD = re.compile(r"[^\x00-\x1f\x7f]+")


def checked_header_name(name: str) -> str:
    """``name``, or ValueError unless it is a header name the gateway does not set itself."""
    if not HEADER_NAME.fullmatch(name) or name.lower() in RESERVED_HEADERS:
        raise ValueError("must be a header name the gateway does not set itself")
    return name


class CredentialRejected(UnprocessableContent):
    """Raised when the provider's verification request refuses a credential; nothing is stored."""

    code = "credential_rejected"


@dataclass(frozen=True)
class Verification:
    """The request that checks a new credential: ``method`` ``path`` (below the API base URL),
    accepted when the provider answers ``expect_status``."""

    method: VerificationMethod
    path: str
    expect_status: int


@dataclass(frozen=True)
class CredentialProfile:
    """How a provider takes stored credentials: their ``kind``, the header a ``header`` credential
    goes in, and the ``verification`` request (None: stored unchecked)."""

    kind: CredentialKind
    header_name: str | None
    verification: Verification | None


@dataclass(frozen=True, repr=False)
class StoredCredential:
    """A credential as given: ``secret`` is the key, the password or the header's value;
    ``username`` goes with a password. Prints as stars."""

    kind: CredentialKind
    secret: SecretStr
    username: str | None = None

    def __repr__(self) -> str:
        return f"StoredCredential(kind={self.kind!r}, secret=***)"

    def problem(self) -> str | None:
        """Why it cannot be sent as its kind says, if it cannot: a key or a header's value is
        printable ASCII (it goes in a header as it is); a password has no control characters."""
        secret = self.secret.get_secret_value()
        allowed = _PASSWORD if self.kind == "basic" else _HEADER_VALUE
        if not allowed.fullmatch(secret):
            return "printable characters only" if self.kind == "basic" else "printable ASCII only"
        return None

    def plaintext(self) -> str:
        """What is sealed on the connection."""
        document: dict[str, str] = {"secret": self.secret.get_secret_value()}
        if self.username is not None:
            document["username"] = self.username
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def opened(cls, kind: CredentialKind, plaintext: str) -> StoredCredential:
        document = json.loads(plaintext)
        return cls(kind, SecretStr(document["secret"]), document.get("username"))


def injected(
    credential: StoredCredential | str, profile: CredentialProfile | None, auth: AuthHeader = BEARER
) -> tuple[str, str, bool]:
    """Where a connection's credential goes to its provider, as ``(name, value, in_query)``: an
    OAuth access token (a ``str``) or an API key as ``auth`` says (the header ``Authorization:
    Bearer`` by default, or the query parameter ``auth.query_param``), a basic credential as
    ``Authorization: Basic`` (RFC 7617), a header's value in the header ``profile`` names. The one
    place a credential becomes what is sent; the value is the secret itself, never to be shown."""
    if isinstance(credential, str):
        secret = credential
    else:
        secret = credential.secret.get_secret_value()
        if credential.kind == "basic":
            pair = f"{credential.username or ''}:{secret}".encode()
            return ("Authorization", f"Basic {base64.b64encode(pair).decode('ascii')}", False)
        if credential.kind == "header":
            assert profile is not None and profile.header_name is not None
            return (profile.header_name, secret, False)
    if auth.query_param is not None:
        return (auth.query_param, secret, True)
    return (auth.header, auth.header_value(secret), False)


async def verify(
    http: httpx.AsyncClient,
    provider: str,
    api_base_url: str,
    profile: CredentialProfile,
    credential: StoredCredential,
    auth: AuthHeader = BEARER,
) -> None:
    """Ask the provider whether it takes ``credential``, sent as ``injected`` says (nothing to ask
    without a verification request). CredentialRejected (422) with its status and a safe excerpt
    of its answer when it does not; ProviderUnavailable when it cannot be reached or answers 5xx
    or 429."""
    check = profile.verification
    if check is None:
        return
    name, value, in_query = injected(credential, profile, auth)
    headers = {"Accept": "application/json"}
    if not in_query:
        headers[name] = value
    try:
        response = await http.request(
            check.method,
            api_base_url + check.path,
            params={name: value} if in_query else None,
            headers=headers,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise transport_error(provider, "verification request", exc) from exc
    if response.status_code == check.expect_status:
        return
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(
            f"{provider} answered {response.status_code} to the verification request",
            provider=provider,
            upstream_status=response.status_code,
        )
    raise CredentialRejected(
        f"{provider} refused the credential ({response.status_code}); it was not stored",
        details={
            "provider": provider,
            "upstream_status": response.status_code,
            "reason": excerpt(response.text, credential),
        },
    )


def excerpt(text: str, credential: StoredCredential) -> str:
    """The start of a provider's answer, printable, with any echo of the credential starred."""
    secret = credential.secret.get_secret_value()
    if secret:
        text = text.replace(secret, "***")
    shown = _UNPRINTABLE.sub(" ", text).strip()
    return shown if len(shown) <= EXCERPT_LIMIT else shown[:EXCERPT_LIMIT] + "..."
