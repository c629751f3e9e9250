"""GET /v1/partner/user/calendar/events."""

from __future__ import annotations

from tests.gateway_sandbox.driver import Sandbox


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


def events_of(sandbox: Sandbox, token: str) -> list[dict[str, str]]:
    page = sandbox.api(
        "/calendar/events", token, start_date="2000-01-01", end_date="2100-01-01", limit="100"
    )
    items: list[dict[str, str]] = page.json()["items"]
    return items


def test_the_end_date_is_required_too(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/calendar/events", token, start_date="2000-01-01")

    assert (response.status_code, response.json()["code"]) == (400, "missing_end_date")


def test_the_deprecated_start_and_end_are_read(sandbox: Sandbox, token: str) -> None:
    page = sandbox.api("/calendar/events", token, start="2000-01-01", end="2100-01-01").json()

    assert page["total"] == len(events_of(sandbox, token))


def test_events_come_earliest_first_or_reversed(sandbox: Sandbox, token: str) -> None:
    ascending = events_of(sandbox, token)
    page = sandbox.api(
        "/calendar/events",
        token,
        start_date="2000-01-01",
        end_date="2100-01-01",
        limit="100",
        direction="desc",
    ).json()

    assert [e["start_time"] for e in ascending] == sorted(e["start_time"] for e in ascending)
    assert page["items"] == ascending[::-1]


def test_a_range_ending_before_it_starts_is_400(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api(
        "/calendar/events", token, start_date="2030-01-01", end_date="2020-01-01"
    )

    assert response.json()["code"] == "invalid_query_parameters"


def test_a_meeting_is_created_from_a_standalone_event_once(sandbox: Sandbox) -> None:
    writer = sandbox.writer()
    event = next(e for e in events_of(sandbox, writer) if not e["linked_meetings"])

    first = sandbox.call("POST", f"/calendar/events/{event['id']}/meeting", writer)
    second = sandbox.call("POST", f"/calendar/events/{event['id']}/meeting", writer)

    assert first.status_code == 201
    body = first.json()
    assert (body["created"], body["message"]) == (True, "Meeting created from the calendar event.")
    meeting = body["meeting"]
    assert (meeting["title"], meeting["calendar_event_id"]) == (event["title"], event["id"])
    assert (meeting["start_time"], meeting["end_time"]) == (event["start_time"], event["end_time"])
    assert second.status_code == 200
    assert second.json() == {"created": False, "meeting": meeting}
    linked = sandbox.api(f"/calendar/events/{event['id']}", writer).json()
    assert linked["linked_meetings"] == [meeting["id"]]
    people = sandbox.api(f"/meetings/{meeting['id']}/participants", writer).json()["items"]
    assert {p["email"] for p in people} == {a["email"] for a in event["attendees"]}  # type: ignore[index]


def test_an_event_that_has_a_meeting_answers_200_with_it(sandbox: Sandbox) -> None:
    writer = sandbox.writer()
    event = next(e for e in events_of(sandbox, writer) if e["linked_meetings"])

    response = sandbox.call("POST", f"/calendar/events/{event['id']}/meeting", writer)

    assert response.status_code == 200
    assert response.json()["meeting"]["id"] == event["linked_meetings"][0]


def test_creating_a_meeting_needs_calendar_write(sandbox: Sandbox, token: str) -> None:
    event = events_of(sandbox, token)[0]

    assert sandbox.call("POST", f"/calendar/events/{event['id']}/meeting", token).status_code == 403


def test_an_unknown_event_is_404_and_a_bad_id_400(sandbox: Sandbox) -> None:
    writer = sandbox.writer()

    unknown = sandbox.call(
        "POST", "/calendar/events/00000000-0000-4000-8000-000000000000/meeting", writer
    )
    bad = sandbox.api("/calendar/events/nope", writer)

    assert unknown.status_code == 404
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_calendar_event_id")
