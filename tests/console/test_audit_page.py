"""The console's audit page: the trail filtered by actor, action and time, each entry with where it
came from, through the HTML a browser gets."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.db import Database
from tests.console.conftest import Admin, new_operator, sign_in

ROW = re.compile(r'<tr data-entry="([^"]+)">(.*?)</tr>', re.S)


def rows(html: str) -> list[str]:
    return [body for _id, body in ROW.findall(html)]


async def test_the_page_filters_by_actor_action_and_time(
    console: httpx.AsyncClient, operator: Admin, db: Database, browser: httpx.AsyncClient
) -> None:
    other = await new_operator(db)
    async with httpx.AsyncClient(
        base_url=str(browser.base_url), timeout=10, headers={"User-Agent": "other-browser/9"}
    ) as elsewhere:
        assert (await sign_in(elsewhere, other.key)).status_code == 303
    mine = {"actor": operator.actor, "action": "console.signed_in"}

    page = await console.get("/console/audit", params=mine)

    assert page.status_code == 200, page.text
    [entry] = rows(page.text)
    assert operator.actor in entry and "console.signed_in" in entry and "127.0.0.1" in entry
    assert other.actor not in page.text

    theirs = await console.get("/console/audit", params={"actor": other.actor})
    [their_entry] = rows(theirs.text)
    assert 'title="other-browser/9"' in their_entry

    hour_ago, hour_ahead = (
        rfc3339(utcnow() - timedelta(hours=1)),
        rfc3339(utcnow() + timedelta(hours=1)),
    )
    within = await console.get(
        "/console/audit", params={**mine, "since": hour_ago, "until": hour_ahead}
    )
    later = await console.get("/console/audit", params={**mine, "since": hour_ahead})
    assert len(rows(within.text)) == 1
    assert rows(later.text) == [] and "No entries." in later.text


async def test_empty_fields_mean_no_filter_and_a_bad_time_is_refused(
    console: httpx.AsyncClient,
) -> None:
    blank = await console.get(
        "/console/audit", params={"actor": "", "action": "", "since": "", "until": ""}
    )
    bad = await console.get("/console/audit", params={"since": "last tuesday"})

    assert blank.status_code == 200 and rows(blank.text)
    assert bad.status_code == 400 and "RFC 3339" in bad.text


async def test_signed_out_the_page_sends_to_sign_in(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/console/audit")

    assert response.status_code in (302, 303)
    assert "/console/sign-in" in response.headers["location"]
