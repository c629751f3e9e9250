"""How a provider's API is reached once a user is connected: the connection's settings kept from
the token response, the API base URL they make, and how the credential is injected.

- ``TokenResponseShape``: where the access token, its lifetime and the refresh token are in a token
  response (dotted paths; the top-level names of RFC 6749 by default), and which fields are kept
  as the connection's **settings** (``instance_url`` at Salesforce).
- ``ApiBase``: ``api_base_url`` as a template over those settings (``{instance_url}/services/data``)
  and the ``allowed_hosts`` patterns its result must match. A URL it makes must be ``https``
  (plain ``http`` only on loopback, and only with ``plain_http_loopback``: the test setting
  ``GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP``), without credentials, query or fragment, on a host
  one of the patterns admits: checked when settings are stored (a refresh's included), and again
  on the final URL of every call (``check_url``).
- ``AuthHeader``: the header and scheme the credential goes in (``Authorization: Bearer`` by
  default), or the query parameter for a provider that insists on one.

Pure functions without I/O; the refusal is ``SettingNotAllowed`` (422 ``setting_not_allowed``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType
from urllib.parse import urlsplit

from gateway.exceptions import UnprocessableContent

MAX_SETTING_LENGTH = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_PATH = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
SETTING_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HOST_PATTERN = re.compile(r"[a-z0-9*][a-z0-9.*-]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# What a setting may never hold: it is put into a URL.
_UNSAFE_VALUE = re.compile(r"[\x00-\x20\x7f\\#?{}]")


class SettingNotAllowed(UnprocessableContent):
    """Raised when settings would make an API base URL the profile does not allow."""

    code = "setting_not_allowed"


@dataclass(frozen=True)
class TokenResponseShape:
    """Where a token response holds what the gateway reads (dotted paths into the JSON object)."""

    access_token: str = "access_token"
    expires_in: str = "expires_in"
    refresh_token: str = "refresh_token"
    # setting name -> dotted path of the field kept
    settings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in (
            self.access_token,
            self.expires_in,
            self.refresh_token,
            *self.settings.values(),
        ):
            if not _PATH.fullmatch(path):
                raise ValueError(
                    f"token_response: {path!r} is not a dotted path (names joined by '.')"
                )
        for name in self.settings:
            if not SETTING_NAME.fullmatch(name):
                raise ValueError(
                    f"token_response: a setting's name ({name!r}) is lowercase letters, digits "
                    "and '_'"
                )
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @property
    def nested(self) -> bool:
        """Whether anything is read from below the top level."""
        return any("." in path for path in (self.access_token, self.expires_in, self.refresh_token))

    def read_settings(self, body: Mapping[str, object]) -> dict[str, str]:
        """The settings found in ``body`` (a field absent or not a string is left out)."""
        found: dict[str, str] = {}
        for name, path in self.settings.items():
            value = lookup(body, path)
            if isinstance(value, str) and value:
                found[name] = value
        return found


def lookup(body: Mapping[str, object], path: str) -> object:
    """The value at a dotted path in a JSON object, or None."""
    value: object = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``host`` (any case) matches one of ``patterns``: ``*`` stands for any characters,
    dots included, so ``*.example.com`` admits every subdomain but not ``example.com`` itself."""
    host = host.lower().rstrip(".")
    return any(fnmatchcase(host, pattern) for pattern in patterns)


@dataclass(frozen=True)
class ApiBase:
    """``api_base_url`` as a template over a connection's settings; None of this for a fixed one."""

    template: str
    allowed_hosts: tuple[str, ...]
    # Plain http accepted on loopback hosts (GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP, for tests).
    plain_http_loopback: bool = False
    placeholders: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names: list[str] = []
        for literal, name, spec, conversion in string.Formatter().parse(self.template):
            del literal
            if name is None:
                continue
            if not name or not SETTING_NAME.fullmatch(name) or spec or conversion:
                raise ValueError(f"api_base_url: {{{name}}} is not a setting's name")
            names.append(name)
        if not names:
            raise ValueError("api_base_url: a template names at least one {setting}")
        if not self.allowed_hosts:
            raise ValueError("api_base_url is a template: give allowed_hosts")
        for pattern in self.allowed_hosts:
            if not _HOST_PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"allowed_hosts: {pattern!r} is not a host pattern (lowercase letters, digits, "
                    "'-', '.' and '*'; no scheme or port)"
                )
        object.__setattr__(self, "placeholders", tuple(dict.fromkeys(names)))

    def resolve(self, settings: Mapping[str, str]) -> str:
        """The API base URL these settings make; SettingNotAllowed when it is not allowed."""
        missing = [name for name in self.placeholders if not settings.get(name)]
        if missing:
            raise SettingNotAllowed(
                f"the connection has no {', '.join(missing)} setting for the API base URL",
                details={"settings": missing},
            )
        for name in self.placeholders:
            value = settings[name]
            if len(value) > MAX_SETTING_LENGTH or _UNSAFE_VALUE.search(value):
                raise SettingNotAllowed(
                    f"the {name} setting holds characters a URL may not",
                    details={"setting": name},
                )
        url = self.template.format_map(settings).rstrip("/")
        self.check_url(url)
        return url

    def check_url(self, url: str) -> None:
        """SettingNotAllowed unless ``url`` is https (or allowed plain http) on an allowed host,
        without credentials, query or fragment."""
        try:
            parts = urlsplit(url)
            host, _port = parts.hostname, parts.port  # a malformed port raises ValueError
        except ValueError:
            raise SettingNotAllowed(
                "the settings do not make a usable API base URL", details={"host": None}
            ) from None
        if host is None or parts.username is not None or parts.query or parts.fragment:
            raise SettingNotAllowed(
                "the settings do not make a usable API base URL", details={"host": host}
            )
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and self.plain_http_loopback and host in LOOPBACK_HOSTS
        )
        if not secure:
            raise SettingNotAllowed(
                "the API base URL the settings make is not https", details={"host": host}
            )
        if not host_allowed(host, self.allowed_hosts):
            raise SettingNotAllowed(
                f"the host {host[:255]!r} is not among the provider's allowed_hosts",
                details={"host": host[:255]},
            )


@dataclass(frozen=True)
class AuthHeader:
    """How the credential goes to the provider's API: ``header: scheme credential`` (no scheme:
    the credential alone), or as the query parameter ``query_param``."""

    header: str = "Authorization"
    scheme: str = "Bearer"
    query_param: str | None = None

    def __post_init__(self) -> None:
        if self.query_param is None and not _HEADER_NAME.fullmatch(self.header):
            raise ValueError(f"auth_header: {self.header!r} is not a header name")
        if self.scheme and not _HEADER_NAME.fullmatch(self.scheme):
            raise ValueError(f"auth_header: {self.scheme!r} is not a scheme (one word)")
        if self.query_param is not None and not _PATH.fullmatch(self.query_param):
            raise ValueError(f"auth_header: {self.query_param!r} is not a query parameter name")

    def header_value(self, credential: str) -> str:
        return f"{self.scheme} {credential}" if self.scheme else credential


BEARER = AuthHeader()


@dataclass(frozen=True)
class ApiProfile:
    """A provider's token-response shape, API base template (None: the fixed ``api_base_url``)
    and credential injection. The default is RFC 6749 and RFC 6750 as they are written."""

    token_response: TokenResponseShape = field(default_factory=TokenResponseShape)
    api_base: ApiBase | None = None
    auth_header: AuthHeader = BEARER

    def __post_init__(self) -> None:
        if self.api_base is not None:
            unknown = set(self.api_base.placeholders) - set(self.token_response.settings)
            if unknown:
                raise ValueError(
                    f"api_base_url names {', '.join(sorted(unknown))}, which token_response's "
                    "settings do not keep"
                )

    def check_settings(self, settings: Mapping[str, str]) -> None:
        """SettingNotAllowed when the settings would make a base URL the profile forbids."""
        if self.api_base is not None:
            self.api_base.resolve(settings)


DEFAULT_PROFILE = ApiProfile()
