"""Outbound URLs that are not a way in: where the gateway may POST on someone else's word.

A URL a caller registers must not turn the gateway into a proxy to its own network. ``EgressPolicy``
decides, by these rules:

- ``https`` only, with no credentials in the URL. Plain ``http`` only when the operator allows
  loopback (``allow_loopback``, for development), and then only to loopback addresses.
- The host's addresses (every one it resolves to) must be public: no private, loopback,
  link-local (cloud metadata services among them), multicast, unspecified or reserved address,
  unless it lies in a network the operator allows (``allowed_networks``), or it is loopback and
  loopback is allowed.

``check_url`` applies the rules that need no DNS; ``resolve`` resolves the host and checks each
address. ``post`` sends to the one address it checked (the URL's host becomes that address, the
``Host`` header and TLS server name stay the URL's host), so DNS cannot answer differently between
the check and the connection. It follows no redirect, never reads the response's body, and gives
up after the time it is given.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
CONNECT_SECONDS = 5.0
RESOLVE_SECONDS = 5.0


class RefusedDestination(Exception):
    """Raised when a URL, or an address its host resolves to, is not one the gateway may call.

    ``code`` is stable: ``url_invalid``, ``url_scheme_not_allowed``, ``address_not_allowed`` or
    ``host_unresolvable``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Destination:
    """A checked URL and the address it will be sent to."""

    url: httpx.URL
    address: IPAddress


def parse_networks(texts: Sequence[str]) -> tuple[IPNetwork, ...]:
    """CIDR networks (``10.1.0.0/16``); ValueError naming a malformed one."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts if text.strip())


def special_kind(address: IPAddress) -> str | None:
    """What makes ``address`` non-public (``loopback``, ``private``, ...), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return special_kind(address.ipv4_mapped)
    for kind, flagged in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved or not address.is_global),
    ):
        if flagged:
            return kind
    return None


@dataclass(frozen=True)
class EgressPolicy:
    allow_loopback: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    def check_url(self, text: str) -> httpx.URL:
        """The URL, if its form is acceptable; RefusedDestination else (no DNS is asked)."""
        if len(text) > MAX_URL_LENGTH:
            raise RefusedDestination("url_invalid", f"a URL is at most {MAX_URL_LENGTH} characters")
        try:
            url = httpx.URL(text)
        except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError is a ValueError
            raise RefusedDestination("url_invalid", "the URL is malformed") from exc
        if url.scheme not in ("https", "http") or not url.host:
            raise RefusedDestination("url_invalid", "the URL must be https://host/...")
        if url.userinfo:
            raise RefusedDestination("url_invalid", "the URL must not carry credentials")
        if url.scheme == "http" and not self.allow_loopback:
            raise RefusedDestination("url_scheme_not_allowed", "the URL must use https")
        literal = _literal(url.host)
        if literal is not None:
            self.check_address(literal, url)
        return url

    def check_address(self, address: IPAddress, url: httpx.URL) -> None:
        """RefusedDestination unless ``url`` may be sent to ``address``."""
        kind = special_kind(address)
        if kind == "loopback" and self.allow_loopback:
            return
        if url.scheme == "http":
            raise RefusedDestination(
                "url_scheme_not_allowed", "plain http is allowed to loopback addresses only"
            )
        if kind is not None and not any(address in network for network in self.allowed_networks):
            raise RefusedDestination(
                "address_not_allowed", f"the URL's host is a {kind} address, which is not allowed"
            )

    async def resolve(self, text: str) -> Destination:
        """The URL checked and its host resolved, each address checked; the first to send to."""
        url = self.check_url(text)
        literal = _literal(url.host)
        if literal is not None:
            return Destination(url, literal)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(RESOLVE_SECONDS):
                found = await asyncio.get_running_loop().getaddrinfo(
                    url.host, port, type=socket.SOCK_STREAM
                )
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise RefusedDestination(
                "host_unresolvable", "the URL's host does not resolve"
            ) from exc
        addresses = [ipaddress.ip_address(str(entry[4][0]).partition("%")[0]) for entry in found]
        if not addresses:
            raise RefusedDestination("host_unresolvable", "the URL's host does not resolve")
        for address in addresses:
            self.check_address(address, url)
        return Destination(url, addresses[0])


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def post(
    http: httpx.AsyncClient,
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    *,
    seconds: float,
) -> int:
    """POST ``body`` to the destination's checked address; its status code (a redirect is not
    followed). httpx errors and ``TimeoutError`` (past ``seconds`` in all) pass to the caller."""
    url = destination.url
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    request = http.build_request(
        "POST",
        url.copy_with(host=str(destination.address)),
        content=body,
        headers={**headers, "host": host_header},
        timeout=httpx.Timeout(seconds, connect=min(seconds, CONNECT_SECONDS)),
        extensions=extensions,
    )
    async with asyncio.timeout(seconds):
        response = await http.send(request, stream=True, follow_redirects=False)
        await response.aclose()
    return response.status_code
