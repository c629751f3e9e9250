"""The provisioning API and its verify page answer as the document says."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fixtures.stack import Stack
from tests.openapi.conformance import conforms, error_code
from tests.provisioning.flows import latest_code, new_user, wrong

START = "/v1/provisioning"
ONE = "/v1/provisioning/{provisioning_id}"
VERIFY = "/v1/provisioning/{provisioning_id}/verify"
PAGE = "/provision/{provisioning_id}"


@pytest.fixture
async def sandbox(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.sandbox.url, timeout=10) as client:
        yield client


def body() -> dict[str, Any]:
    user_id, email = new_user()
    return {"user_id": user_id, "email": email}


async def start(api: httpx.AsyncClient, **headers: str) -> tuple[dict[str, Any], httpx.Response]:
    sent = body()
    response = conforms(await api.post(START, json=sent, headers=headers), START)
    return sent, response


async def test_starting_is_201_and_a_replay_answers_the_same(api: httpx.AsyncClient) -> None:
    sent, first = await start(api)
    assert first.status_code == 201
    key = {"Idempotency-Key": uuid.uuid4().hex}
    once = conforms(await api.post(START, json=sent, headers=key), START)
    again = conforms(await api.post(START, json=sent, headers=key), START)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == once.json()


async def test_a_key_reused_with_another_body_is_422(api: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    await start(api, **key)
    _, response = await start(api, **key)
    assert error_code(response) == "idempotency_key_reused"


async def test_a_malformed_idempotency_key_is_400(api: httpx.AsyncClient) -> None:
    _, response = await start(api, **{"Idempotency-Key": "k" * 256})
    assert error_code(response) == "invalid_idempotency_key"


async def test_a_bad_body_is_400_validation_error(api: httpx.AsyncClient) -> None:
    response = conforms(await api.post(START, json={"user_id": "u", "email": "no"}), START)
    assert error_code(response) == "validation_error"


async def test_a_nul_in_the_email_is_400_not_500(api: httpx.AsyncClient) -> None:
    # Regression: the provider created the user, then storing the email failed with a 500.
    sent = {**body(), "email": "a\x00b@example.com"}
    response = conforms(await api.post(START, json=sent), START)
    assert error_code(response) == "validation_error"


async def test_an_unknown_workspace_is_404(api: httpx.AsyncClient) -> None:
    sent = {**body(), "workspace_id": str(uuid.uuid4())}
    response = conforms(await api.post(START, json=sent), START)
    assert error_code(response) == "workspace_not_found"


async def test_without_the_scope_it_is_403(
    gateway_http: httpx.AsyncClient, proxy_only_key: str
) -> None:
    headers = {"Authorization": f"Bearer {proxy_only_key}"}
    response = conforms(await gateway_http.post(START, json=body(), headers=headers), START)
    assert error_code(response) == "insufficient_scope"


async def test_without_a_key_it_is_401(gateway_http: httpx.AsyncClient) -> None:
    assert conforms(await gateway_http.post(START, json=body()), START).status_code == 401


async def test_a_provisioning_is_shown_then_verified(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    sent, started = await start(api)
    path = f"/v1/provisioning/{started.json()['id']}"
    shown = conforms(await api.get(path), ONE)
    assert shown.json()["status"] == "code_sent"
    code = await latest_code(sandbox, sent["email"])
    refused = conforms(await api.post(f"{path}/verify", json={"code": wrong(code)}), VERIFY)
    assert error_code(refused) == "invalid_code"
    verified = conforms(await api.post(f"{path}/verify", json={"code": code}), VERIFY)
    assert verified.json()["status"] == "connected"
    assert conforms(await api.get(path), ONE).json()["status"] == "connected"


async def test_an_unknown_provisioning_is_404(api: httpx.AsyncClient) -> None:
    path = f"/v1/provisioning/{uuid.uuid4()}"
    assert error_code(conforms(await api.get(path), ONE)) == "provisioning_not_found"
    response = await api.post(f"{path}/verify", json={"code": "123456"})
    assert error_code(conforms(response, VERIFY)) == "provisioning_not_found"


async def test_a_verify_without_a_code_is_400(api: httpx.AsyncClient) -> None:
    _, started = await start(api)
    response = await api.post(f"/v1/provisioning/{started.json()['id']}/verify", json={})
    assert error_code(conforms(response, VERIFY)) == "validation_error"


async def test_the_verify_page_is_a_form_then_the_outcome(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    sent, started = await start(api)
    verify_url = started.json()["verify_url"]
    page_path, _, query = verify_url.partition("/provision/")[2].partition("?")
    path, token = f"/provision/{page_path}", query.removeprefix("token=")
    form = conforms(await api.get(path, params={"token": token}), PAGE)
    assert form.status_code == 200
    wrong_code = conforms(await api.post(path, data={"token": token, "code": "x"}), PAGE)
    assert wrong_code.status_code == 400
    code = await latest_code(sandbox, sent["email"])
    done = conforms(await api.post(path, data={"token": token, "code": code}), PAGE)
    assert done.status_code == 200


async def test_the_verify_page_of_an_unknown_provisioning_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/provision/{uuid.uuid4()}", params={"token": "nope"})
    assert conforms(response, PAGE).status_code == 404
