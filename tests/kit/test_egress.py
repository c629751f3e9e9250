"""The egress rules: which URLs and addresses the gateway may POST to, and a real send on loopback."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.kit.egress import EgressPolicy, RefusedDestination, parse_networks, post, special_kind
from tests.fixtures.servers import ServerThread, serving

DEFAULT = EgressPolicy()
LOOPBACK = EgressPolicy(allow_loopback=True)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "reserved"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_an_address_is_public_only_when_nothing_marks_it(address: str, kind: str | None) -> None:
    assert special_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://93.184.216.34/hook", "url_scheme_not_allowed"),
        ("ftp://example.com/hook", "url_invalid"),
        ("https://user:pass@example.com/hook", "url_invalid"),
        ("https:///hook", "url_invalid"),
        ("https://127.0.0.1/hook", "address_not_allowed"),
        ("https://[::1]/hook", "address_not_allowed"),
        ("https://10.0.0.8/hook", "address_not_allowed"),
        ("https://169.254.169.254/latest/meta-data", "address_not_allowed"),
        ("https://[::ffff:169.254.169.254]/", "address_not_allowed"),
        ("https://0.0.0.0/hook", "address_not_allowed"),
    ],
)
def test_the_defaults_refuse_urls_that_are_a_way_in(url: str, code: str) -> None:
    with pytest.raises(RefusedDestination) as refused:
        DEFAULT.check_url(url)
    assert refused.value.code == code


def test_a_public_https_url_is_taken() -> None:
    assert DEFAULT.check_url("https://93.184.216.34:8443/hook").port == 8443


def test_loopback_allowed_takes_http_to_loopback_only() -> None:
    LOOPBACK.check_url("http://127.0.0.1:9/hook")
    LOOPBACK.check_url("https://[::1]/hook")
    with pytest.raises(RefusedDestination) as refused:
        LOOPBACK.check_url("http://93.184.216.34/hook")
    assert refused.value.code == "url_scheme_not_allowed"
    with pytest.raises(RefusedDestination):
        LOOPBACK.check_url("https://10.0.0.8/hook")


def test_an_allowed_network_admits_its_private_addresses_only() -> None:
    policy = EgressPolicy(allowed_networks=parse_networks(["10.20.0.0/16"]))
    policy.check_url("https://10.20.3.4/hook")
    with pytest.raises(RefusedDestination):
        policy.check_url("https://10.21.3.4/hook")
    with pytest.raises(RefusedDestination):
        policy.check_url("http://10.20.3.4/hook")


async def test_a_host_name_is_checked_against_what_it_resolves_to() -> None:
    with pytest.raises(RefusedDestination) as refused:
        await DEFAULT.resolve("https://localhost/hook")
    assert refused.value.code == "address_not_allowed"
    destination = await LOOPBACK.resolve("http://localhost:9/hook")
    assert destination.address.is_loopback


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(RefusedDestination) as refused:
        await DEFAULT.resolve("https://no-such-host.invalid/hook")
    assert refused.value.code == "host_unresolvable"


class Hits:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.hosts: list[str] = []


def receiver(hits: Hits) -> Starlette:
    async def record(request: Request) -> Response:
        await request.body()
        hits.paths.append(request.url.path)
        hits.hosts.append(request.headers["host"])
        return Response(status_code=204)

    async def moved(request: Request) -> Response:
        await request.body()
        hits.paths.append(request.url.path)
        return RedirectResponse("/hook", status_code=307)

    return Starlette(
        routes=[Route("/hook", record, methods=["POST"]), Route("/moved", moved, methods=["POST"])]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, Hits]]:
    hits = Hits()
    with serving(receiver(hits)) as running:
        yield running, hits


async def test_post_sends_to_the_checked_address_under_the_urls_host_name(
    server: tuple[ServerThread, Hits],
) -> None:
    running, hits = server
    destination = await LOOPBACK.resolve(f"http://localhost:{running.port}/hook")
    async with httpx.AsyncClient(trust_env=False) as http:
        status = await post(http, destination, b"{}", {}, seconds=5)
    assert status == 204
    assert hits.hosts[-1] == f"localhost:{running.port}"


async def test_post_follows_no_redirect(server: tuple[ServerThread, Hits]) -> None:
    running, hits = server
    hits.paths.clear()
    destination = await LOOPBACK.resolve(f"{running.url}/moved")
    async with httpx.AsyncClient(trust_env=False, follow_redirects=True) as http:
        status = await post(http, destination, b"{}", {}, seconds=5)
    assert status == 307
    assert hits.paths == ["/moved"]
