"""Where a proxied call goes and how its credential travels, as the provider's profile says
(``gateway.providers.profile``).

Everything that depends on the connection is worked out once per cached token (``Injection.of``):
the header its credential goes in (an access token or an API key as ``Authorization: Bearer ...``
unless the profile's ``auth_header`` says otherwise; a basic or header credential as its kind
says), or the query parameter it goes in, and the API base URL the connection's settings make when
the profile's ``api_base_url`` is a template. Per call there is nothing to do for a profile
without a template or query parameter (Contio's); with them, the final URL is checked against
``allowed_hosts`` on every call, and a caller's query parameter of the credential's name is
dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_to_bytes

from gateway.providers.credential_profile import CredentialProfile, StoredCredential, injected
from gateway.providers.profile import ApiBase, ApiProfile
from gateway.proxy.headers import FORWARDED

if TYPE_CHECKING:
    from gateway.proxy.admission import Admission


@dataclass(frozen=True, slots=True, repr=False)
class Injection:
    """A connection's credential as the provider takes it, and its API base (for a template)."""

    # The header the credential goes in; None when it goes in the query.
    header: tuple[str, str] | None
    # Whether a caller's header of that name would otherwise be forwarded (and must not be).
    replaces_forwarded: bool
    # ``name=value``, encoded, when the credential goes in the query.
    query_pair: str | None
    # The API base URL the connection's settings make (a template's profile only).
    base_url: str | None

    def __repr__(self) -> str:
        return f"Injection(base_url={self.base_url!r}, credential=***)"

    @classmethod
    def of(
        cls,
        credential: StoredCredential | str,
        credentials: CredentialProfile | None,
        profile: ApiProfile,
        settings: Mapping[str, str],
    ) -> Injection:
        """The injection of an access token (a ``str``) or a stored credential, as the provider's
        ``credentials`` and ``profile`` say (``credential_profile.injected``), with the API base
        ``settings`` make; SettingNotAllowed when the profile's template cannot be resolved."""
        base_url = profile.api_base.resolve(settings) if profile.api_base is not None else None
        name, value, in_query = injected(credential, credentials, profile.auth_header)
        if in_query:
            return cls(None, False, f"{quote(name, safe='')}={quote(value, safe='')}", base_url)
        return cls((name, value), name.lower().encode() in FORWARDED, None, base_url)


def target(admission: Admission, injection: Injection, query: bytes) -> str:
    """The URL a call goes to with a connection's ``injection`` and the caller's raw query
    string, for an admission that is not ``fixed`` (the endpoint builds those itself)."""
    url = admission.url
    if admission.api_base is not None:
        url = located(admission.api_base, injection.base_url, url)
    param = admission.credential_param
    if param is not None and injection.query_pair is not None:
        return url + "?" + with_query_credential(query, param, injection.query_pair)
    if query:
        url += "?" + query.decode("latin-1")
    return url


def located(api_base: ApiBase, base_url: str | None, path: str) -> str:
    """The final URL of a call to a templated API base, checked (SettingNotAllowed otherwise)."""
    if base_url is None:  # the injection resolved it, so this is a programming error
        raise ValueError("a templated API base needs the connection's base URL")
    url = base_url + path
    api_base.check_url(url)
    return url


def with_query_credential(query: bytes, name: bytes, pair: str) -> str:
    """The caller's query string without any parameter called ``name`` (lower case; matched in
    any case and however encoded), then the credential's ``pair``."""
    kept = [
        part
        for part in query.split(b"&")
        if part and unquote_to_bytes(part.split(b"=", 1)[0].replace(b"+", b" ")).lower() != name
    ]
    kept_text = b"&".join(kept).decode("latin-1")
    return f"{kept_text}&{pair}" if kept_text else pair
