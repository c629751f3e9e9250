"""GET /v1/partner/user/calendar/events."""

from __future__ import annotations

from tests.sandbox.driver import Sandbox


def test_calendar_events_need_a_date_range(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/calendar/events", token, end_date="2030-01-01")

    assert response.status_code == 400
    assert response.json()["code"] == "missing_start_date"


def test_calendar_events_in_a_range_can_be_listed_and_read(sandbox: Sandbox, token: str) -> None:
    page = sandbox.api(
        "/calendar/events", token, start_date="2000-01-01", end_date="2100-01-01"
    ).json()
    event = page["items"][0]

    assert page["total"] > 0
    assert sandbox.api(f"/calendar/events/{event['id']}", token).json() == event
