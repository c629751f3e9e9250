"""The verify page over HTTP: its headers, its capability token, and what each answer shows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from tests.provisioning.flows import latest_code, load, new_user, set_columns, started, wrong


def page_of(begun: dict[str, Any]) -> tuple[str, str]:
    """The verify URL's path and its token."""
    url = urlsplit(begun["verify_url"])
    return url.path, parse_qs(url.query)["token"][0]


def result(page: httpx.Response) -> tuple[str, str | None]:
    """The result page's status and error code."""
    status = re.search(r'id="result" data-status="([a-z_]+)"', page.text)
    code = re.search(r'id="error-code">([a-z_]+)<', page.text)
    assert status is not None, page.text
    return status.group(1), code.group(1) if code else None


async def test_the_page_is_a_form_carrying_its_token_with_strict_headers(
    gw: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    path, token = page_of(begun)

    page = await gw.get(path, params={"token": token})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert "set-cookie" not in page.headers
    assert f'<input type="hidden" name="token" value="{token}">' in page.text
    assert email in page.text


async def test_a_wrong_or_missing_token_shows_nothing(gw: httpx.AsyncClient, key: str) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    path, token = page_of(begun)

    for params in ({}, {"token": token[:-2] + "xx"}):
        page = await gw.get(path, params=params)

        assert page.status_code == 404
        assert result(page) == ("error", "provisioning_not_found")
        assert email not in page.text


async def test_a_post_without_the_token_changes_nothing(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    # What a form on another site could send: it cannot know the token.
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    path, _token = page_of(begun)

    page = await gw.post(path, data={"code": await latest_code(sandbox, email)})

    assert page.status_code == 404
    assert result(page) == ("error", "provisioning_not_found")
    assert (await load(db, begun["id"])).status.value == "code_sent"


async def test_a_wrong_code_shows_the_form_again_with_the_attempts_left(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    path, token = page_of(begun)

    page = await gw.post(
        path, data={"token": token, "code": wrong(await latest_code(sandbox, email))}
    )

    assert page.status_code == 400
    assert 'data-code="invalid_code"' in page.text
    assert "4 attempts left" in page.text
    assert 'id="verify-form"' in page.text


async def test_the_right_code_connects_and_the_page_says_so_from_then_on(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    path, token = page_of(begun)

    page = await gw.post(path, data={"token": token, "code": await latest_code(sandbox, email)})
    later = await gw.get(path, params={"token": token})

    connection_id = str((await load(db, begun["id"])).connection_id)
    for shown in (page, later):
        assert shown.status_code == 200
        assert result(shown) == ("connected", None)
        assert connection_id in shown.text


async def test_an_expired_code_shows_the_expiry(
    gw: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    path, token = page_of(begun)
    await set_columns(db, begun["id"], code_expires_at=utcnow() - timedelta(seconds=1))

    page = await gw.get(path, params={"token": token})

    assert page.status_code == 410
    assert result(page) == ("error", "code_expired")
