"""How the partner-auth client maps Contio's answers, where the sandbox cannot show every variant
(Contio's 400 ``workspace_not_found``, 401 ``invalid_code``): narrow tests over a MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from gateway.exceptions import GatewayError
from gateway.providers.client import OAuthClient
from gateway.providers.contio import contio_config
from gateway.providers.errors import ClientRejected, ProviderUnavailable
from gateway.providers.partner_auth import (
    CodeExpired,
    InvalidCode,
    PartnerAuth,
    PartnerAuthUnsupported,
    SessionExpired,
    WorkspaceConflict,
    WorkspaceNotAuthorized,
    WorkspaceNotFound,
)
from gateway.providers.spender import OPERATOR, Spender
from gateway.settings import Settings
from tests.providers.factories import make_config

Handler = Callable[[httpx.Request], httpx.Response]


class CountingGate:
    def __init__(self) -> None:
        self.spent: list[str] = []

    async def spend(self, provider: str, spender: Spender) -> None:
        self.spent.append(provider)


def partner(handler: Handler, gate: CountingGate | None = None) -> PartnerAuth:
    settings = Settings(
        contio_client_id="partner-app",
        contio_client_secret=SecretStr("old-secret,new-secret"),
        contio_auth_url="https://auth.contio.test",
    )
    config = contio_config(settings)
    assert config is not None
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PartnerAuth(OAuthClient(config, http, gate), OPERATOR)


def answer(status: int, **body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


async def initiate(client: PartnerAuth) -> object:
    return await client.initiate(email="a@example.com", name=None, workspace_id="ws", is_admin=None)


@pytest.mark.parametrize("status", [400, 404])
async def test_workspace_not_found_is_mapped_by_its_code_whatever_the_status(status: int) -> None:
    client = partner(answer(status, code="workspace_not_found", error="No such workspace."))

    with pytest.raises(WorkspaceNotFound) as raised:
        await initiate(client)

    assert (raised.value.status_code, raised.value.code) == (404, "workspace_not_found")


async def test_the_workspace_refusals_keep_their_codes() -> None:
    not_authorized = partner(answer(403, code="workspace_not_authorized", error="Not yours."))
    conflict = partner(
        answer(409, code="workspace_conflict", error="Elsewhere.", workspace_id="ws-current")
    )

    with pytest.raises(WorkspaceNotAuthorized):
        await initiate(not_authorized)
    with pytest.raises(WorkspaceConflict) as raised:
        await initiate(conflict)

    assert raised.value.details == {"workspace_id": "ws-current"}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"code": "invalid_code", "error": "Wrong."}, InvalidCode),
        (400, {"code": "invalid_code", "reason": "mismatch", "attempts_remaining": 2}, InvalidCode),
        (400, {"code": "invalid_code", "reason": "expired", "attempts_remaining": 0}, CodeExpired),
        (401, {"code": "session_expired", "error": "Expired."}, SessionExpired),
        (400, {"error": "invalid_request", "error_description": "Unknown session."}, CodeExpired),
    ],
)
async def test_verify_refusals(
    status: int, body: dict[str, object], expected: type[GatewayError]
) -> None:
    client = partner(answer(status, **body))

    with pytest.raises(expected):
        await client.verify(email="a@example.com", code="123456", session="AYAB-s")


async def test_authorize_without_a_signed_in_session_is_session_expired() -> None:
    client = partner(answer(401, code="unauthorized", error="No verified session."))

    with pytest.raises(SessionExpired):
        await client.authorize(
            email="a@example.com",
            redirect_uri="https://gw/cb",
            scopes=("openid",),
            state="s",
            code_challenge="c",
        )


async def test_rate_limits_and_outages_are_provider_unavailable_with_retry_after() -> None:
    limited = partner(
        lambda request: httpx.Response(
            429, json={"error": "rate_limit_exceeded"}, headers={"Retry-After": "7"}
        )
    )
    down = partner(answer(503, code="internal_error"))

    with pytest.raises(ProviderUnavailable) as raised:
        await initiate(limited)
    with pytest.raises(ProviderUnavailable):
        await initiate(down)

    assert raised.value.retry_after == 7


async def test_every_request_spends_the_budget_and_a_rotated_secret_is_tried_next() -> None:
    gate = CountingGate()
    seen: list[tuple[str, str, dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            (request.url.path, request.headers["Authorization"], json.loads(request.content))
        )
        if len(seen) == 1:
            return httpx.Response(401, json={"code": "invalid_client", "error": "Bad secret."})
        return httpx.Response(200, json={"session": "AYAB-s", "user_provisioned": True})

    challenge = await partner(handler, gate).initiate(
        email="a@example.com", name="Ann", workspace_id=None, is_admin=True
    )

    assert challenge.session.get_secret_value() == "AYAB-s"
    assert challenge.user_provisioned is True
    assert gate.spent == ["contio", "contio"]
    assert [path for path, _auth, _body in seen] == ["/auth/initiate", "/auth/initiate"]
    assert seen[0][1] != seen[1][1]
    assert seen[1][2] == {
        "client_id": "partner-app",
        "email": "a@example.com",
        "name": "Ann",
        "is_admin": True,
    }


async def test_every_secret_refused_is_client_rejected() -> None:
    client = partner(answer(401, code="invalid_client", error="Bad secret."))

    with pytest.raises(ClientRejected):
        await initiate(client)


async def test_a_provider_without_partner_auth_is_refused() -> None:
    other = OAuthClient(make_config(), httpx.AsyncClient())

    with pytest.raises(PartnerAuthUnsupported):
        PartnerAuth(other, OPERATOR)
