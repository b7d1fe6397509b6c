"""Tests for the LINE WORKS API 2.0 emulator, one per documented rule.

Spec: ``shared/reference/lineworks-api.md`` (section numbers below) and source document 001
(the create-event reference, whose request example is copied verbatim below).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from include.emulators.lineworks import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, JWT_GRANT
from tests.emulators.fixtures import LineWorksClient, make_assertion

TZ = "Asia/Tokyo"
DAY = "2026-11-16"  # a Monday, the fixtures' anchor

# Source document 001, request example (verbatim).
DOC_001_REQUEST = {
    "eventComponents": [
        {
            "eventId": "eventr8123-wehuh324-qwejqw123",
            "summary": "Meeting",
            "description": "Memo",
            "location": "CUNY Graduate Center",
            "map": {"type": "google", "geo": "40.7486484;-73.98400699999999"},
            "mapUrl": {"mapUrl": "https://mapUrl.googlemap.com", "imageId": "imageId123"},
            "categoryId": "1",
            "organizer": {"email": "user1@example.com", "displayName": "ワークス 太郎"},
            "start": {"dateTime": "2021-12-13T14:00:00", "timeZone": "Asia/Tokyo"},
            "end": {"dateTime": "2021-12-13T15:00:00", "timeZone": "Asia/Tokyo"},
            "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=SU", "EXDATE;TZID=Asia/Tokyo:20211213T140000"],
            "recurringEventId": "TZID=Asia/Tokyo:20211213T140000",
            "transparency": "OPAQUE",
            "visibility": "PUBLIC",
            "sequence": 1,
            "attendees": [
                {
                    "email": "attendee1@example.com",
                    "displayName": "user1",
                    "partstat": "NEEDS-ACTION",
                    "isExternalResouce": False,
                    "isOptional": False,
                    "isResource": False,
                },
                {
                    "email": "attendee2@example.com",
                    "displayName": "user2",
                    "partstat": "ACCEPTED",
                    "isExternalResouce": False,
                    "isOptional": True,
                    "isResource": False,
                },
                {
                    "id": "10000355/10029600@97d9ddb4-ae93-4469-8471-110c573d13z1",
                    "partstat": "ACCEPTED",
                    "resourceValue": "https://calendar.worksmobile.com/resources/resource/10000355/10029600@97d9ddb4-ae93-4469-8471-110c573d13z1",
                    "isExternalResouce": False,
                    "isOptional": False,
                    "isResource": True,
                },
                {
                    "email": "attendee3@example.com",
                    "displayName": "user3",
                    "partstat": "DECLINED",
                    "isExternalResouce": False,
                    "isOptional": False,
                    "isResource": False,
                },
            ],
            "videoMeeting": {"url": "https://works.do/x4gOs1_call", "resourceId": "x4gOs1_call"},
            "reminders": [
                {"method": "DISPLAY", "trigger": "-PT10M"},
                {"method": "EMAIL", "triggerDateTime": {"dateTime": "2021-12-13T10:00:00", "timeZone": "Asia/Tokyo"}},
            ],
        }
    ]
}

# Source document 001, response example: the keys of eventComponents[0] and their JSON types
# (attachments left out: read-only and absent when an event has none).
DOC_001_RESPONSE_TYPES: dict[str, type] = {
    "eventId": str,
    "createdTime": dict,
    "updatedTime": dict,
    "summary": str,
    "description": str,
    "location": str,
    "map": dict,
    "mapUrl": dict,
    "categoryId": str,
    "organizer": dict,
    "start": dict,
    "end": dict,
    "transparency": str,
    "visibility": str,
    "sequence": int,
    "attendees": list,
    "videoMeeting": dict,
    "reminders": list,
}


# ---------------------------------------------------------------------------------- helpers


def timed(day: str, clock: str, tz: str = TZ) -> dict[str, str]:
    return {"dateTime": f"{day}T{clock}", "timeZone": tz}


def component(
    summary: str = "Meeting", *, day: str = DAY, start: str = "10:00:00", end: str = "11:00:00", **fields: Any
) -> dict[str, Any]:
    """One timed event component (Tokyo wall time); ``fields`` are added or replace defaults."""
    return {"summary": summary, "start": timed(day, start), "end": timed(day, end), **fields}


def event_body(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"eventComponents": list(components) or [component()], **fields}


def one_component_with(**fields: Any) -> dict[str, Any]:
    """An event body whose only component has ``fields`` set (a None value removes the field)."""
    item = component()
    for name, value in fields.items():
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return event_body(item)


def recurrence_lines(count: int) -> list[str]:
    return ["RRULE:FREQ=DAILY"] + ["EXDATE;TZID=Asia/Tokyo:20261117T100000"] * (count - 1)


def events_path(user_id: str, calendar_id: str | None = None, event_id: str | None = None) -> str:
    base = f"/users/{user_id}/calendars/{calendar_id}/events" if calendar_id else f"/users/{user_id}/calendar/events"
    return f"{base}/{event_id}" if event_id else base


def create(
    lw: LineWorksClient, user_id: str, body: dict[str, Any], calendar_id: str | None = None
) -> requests.Response:
    return lw.call("POST", events_path(user_id, calendar_id), json=body)


def created(lw: LineWorksClient, user_id: str, body: dict[str, Any], calendar_id: str | None = None) -> dict[str, Any]:
    response = create(lw, user_id, body, calendar_id)
    assert response.status_code == 201, response.text
    return dict(response.json())


def window(day: str, days: float = 1, tz: str = TZ, start_clock: str = "00:00:00") -> tuple[str, str]:
    """Return (fromDateTime, untilDateTime) as RFC 3339 with the zone's offset."""
    first = dt.datetime.fromisoformat(f"{day}T{start_clock}").replace(tzinfo=ZoneInfo(tz))
    return first.isoformat(), (first + dt.timedelta(seconds=round(days * 86400))).isoformat()


def list_events(
    lw: LineWorksClient, user_id: str, span: tuple[str, str], calendar_id: str | None = None
) -> requests.Response:
    params = {"fromDateTime": span[0], "untilDateTime": span[1]}  # requests sends '+' as %2B
    return lw.call("GET", events_path(user_id, calendar_id), params=params)


def listed(
    lw: LineWorksClient, user_id: str, span: tuple[str, str], calendar_id: str | None = None
) -> list[dict[str, Any]]:
    response = list_events(lw, user_id, span, calendar_id)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def listed_ids(lw: LineWorksClient, user_id: str, span: tuple[str, str]) -> list[str]:
    return [item["eventComponents"][0]["eventId"] for item in listed(lw, user_id, span)]


def assert_error(response: requests.Response, status: int, code: str, *fragments: str) -> None:
    """Assert a resource-API error: ``{"code", "description"}`` naming every fragment."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "description"}, body
    assert body["code"] == code, body
    for fragment in fragments:
        assert fragment in body["description"], body


def assert_oauth_error(response: requests.Response, status: int, error: str) -> None:
    """Assert a token-endpoint error: OAuth style ``{"error", "error_description"}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str) and body["error_description"]


def new_calendar(lw: LineWorksClient, name: str, members: list[tuple[str, str]]) -> requests.Response:
    body = {"calendarName": name, "members": [{"id": email, "type": "USER", "role": role} for email, role in members]}
    return lw.call("POST", "/calendars", json=body)


def user_token(lw: LineWorksClient, user_id: str) -> str:
    response = lw.http.post(f"{lw.base}/_emulator/user-token", json={"userId": user_id}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def notifications(lw: LineWorksClient) -> int:
    return int(lw.state()["notifications"])


@pytest.fixture()
def people(lineworks: LineWorksClient) -> list[dict[str, Any]]:
    """The tenant's LINE WORKS users, Tokyo users first (so ``people[0]`` is a Tokyo user)."""
    response = lineworks.call("GET", "/users")
    assert response.status_code == 200, response.text
    return sorted(response.json()["users"], key=lambda user: user["timeZone"] != TZ)


@pytest.fixture()
def owner(people: list[dict[str, Any]]) -> str:
    return str(people[0]["userId"])


# ---------------------------------------------------------------------------------- create (3.6, doc 001)


def test_doc_001_request_example_is_accepted_and_answered_in_the_response_example_shape(
    lineworks: LineWorksClient, owner: str
) -> None:
    calendar_id = lineworks.call("GET", f"/users/{owner}/calendar").json()["calendarId"]
    body = created(lineworks, owner, copy.deepcopy(DOC_001_REQUEST), calendar_id)
    assert body["organizerCalendarId"] == calendar_id
    [stored] = body["eventComponents"]
    for key, kind in DOC_001_RESPONSE_TYPES.items():
        assert type(stored.get(key)) is kind, (key, stored.get(key))
    assert "attachments" not in stored
    assert stored["eventId"] == "eventr8123-wehuh324-qwejqw123"
    assert stored["recurrence"] == DOC_001_REQUEST["eventComponents"][0]["recurrence"]
    assert len(stored["attendees"]) == 4
    # stored as a weekly (Sunday) series, not as a lone exception: a later Sunday lists it
    assert listed_ids(lineworks, owner, window("2021-12-19")) == ["eventr8123-wehuh324-qwejqw123"]


def test_minimal_body_is_accepted_on_the_default_calendar_path(lineworks: LineWorksClient, owner: str) -> None:
    minimal = {
        "eventComponents": [
            {
                "summary": "社内会議",
                "start": {"dateTime": "2023-12-01T14:00:00", "timeZone": "Asia/Tokyo"},
                "end": {"dateTime": "2023-12-01T15:00:00", "timeZone": "Asia/Tokyo"},
            }
        ]
    }
    response = lineworks.call("POST", f"/users/{owner}/calendar/events", json=minimal)
    assert response.status_code == 201, response.text
    [stored] = response.json()["eventComponents"]
    assert stored["summary"] == "社内会議"
    assert stored["start"] == minimal["eventComponents"][0]["start"]


def test_create_assigns_an_event_id_and_documented_defaults(lineworks: LineWorksClient, owner: str) -> None:
    [stored] = created(lineworks, owner, event_body())["eventComponents"]
    assert isinstance(stored["eventId"], str) and 1 <= len(stored["eventId"]) <= 255
    assert (stored["transparency"], stored["visibility"], stored["sequence"], stored["priority"]) == (
        "OPAQUE",
        "PUBLIC",
        0,
        0,
    )


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        pytest.param(one_component_with(summary="x" * 201), ["summary"], id="summary-201"),
        pytest.param(one_component_with(location="x" * 101), ["location"], id="location-101"),
        pytest.param(one_component_with(description="x" * 5001), ["description"], id="description-5001"),
        pytest.param(
            one_component_with(attendees=[{"email": f"guest{i}@example.com"} for i in range(501)]),
            ["attendees"],
            id="attendees-501",
        ),
        pytest.param(one_component_with(recurrence=recurrence_lines(101)), ["recurrence"], id="recurrence-101"),
        pytest.param(
            one_component_with(reminders=[{"method": "DISPLAY", "trigger": "-PT10M"}] * 101),
            ["reminders"],
            id="reminders-101",
        ),
        pytest.param(
            one_component_with(start={"dateTime": f"{DAY}T10:00", "timeZone": TZ}), ["start"], id="no-seconds"
        ),
        pytest.param(
            one_component_with(start=timed(DAY, "10:00:00", "Asia/Atlantis")),
            ["start", "Asia/Atlantis"],
            id="unknown-time-zone",
        ),
        pytest.param(one_component_with(sequence=-1), ["sequence"], id="sequence-negative"),
        pytest.param(one_component_with(priority=10), ["priority"], id="priority-10"),
        pytest.param(one_component_with(transparency="BUSY"), ["transparency"], id="bad-transparency"),
        pytest.param(
            event_body(
                component(eventId="series-a", recurrence=["RRULE:FREQ=DAILY"]),
                component(eventId="series-b", recurringEventId="TZID=Asia/Tokyo:20261117T100000", day="2026-11-17"),
            ),
            ["eventId"],
            id="two-event-ids",
        ),
        pytest.param(one_component_with(start=None), ["start"], id="start-missing"),
        pytest.param(one_component_with(end=timed(DAY, "09:00:00")), ["end"], id="end-before-start"),
    ],
)
def test_create_limit_violation_is_rejected_naming_the_field(
    lineworks: LineWorksClient, owner: str, body: dict[str, Any], fragments: list[str]
) -> None:
    assert_error(create(lineworks, owner, body), 400, "INVALID_PARAMETER", *fragments)
    assert lineworks.state()["eventCount"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("summary", "x" * 200),
        ("location", "x" * 100),
        ("description", "x" * 5000),
        ("attendees", [{"email": f"guest{i}@example.com"} for i in range(500)]),
        ("recurrence", recurrence_lines(100)),
        ("reminders", [{"method": "DISPLAY", "trigger": "-PT10M"}] * 100),
        ("priority", 9),
    ],
)
def test_create_value_at_the_limit_is_accepted(lineworks: LineWorksClient, owner: str, field: str, value: Any) -> None:
    body = {**one_component_with(**{field: value}), "sendNotification": False}
    [stored] = created(lineworks, owner, body)["eventComponents"]
    kept = stored[field]
    if field == "attendees":  # stored attendees gain documented defaults (isOptional, isResource, ...)
        kept = [{"email": attendee["email"]} for attendee in kept]
    assert kept == value


# ---------------------------------------------------------------------------------- client eventId (3.6, 7.2)


def test_client_event_id_is_used_by_every_component(lineworks: LineWorksClient, owner: str) -> None:
    body = event_body(
        component(eventId="migrated-42", recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO"]),
        component(
            "Moved",
            day="2026-11-23",
            start="15:00:00",
            end="16:00:00",
            recurringEventId="TZID=Asia/Tokyo:20261123T100000",
        ),
    )
    stored = created(lineworks, owner, body)["eventComponents"]
    assert [c["eventId"] for c in stored] == ["migrated-42", "migrated-42"]
    got = lineworks.call("GET", events_path(owner, event_id="migrated-42"))
    assert got.status_code == 200, got.text
    assert len(got.json()["eventComponents"]) == 2


def test_duplicate_client_event_id_conflicts_by_default(lineworks: LineWorksClient, owner: str) -> None:
    created(lineworks, owner, event_body(component("First", eventId="dup-1")))
    response = create(lineworks, owner, event_body(component("Second", eventId="dup-1")))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "CONFLICT"
    events = lineworks.state()["events"]
    assert [e["eventComponents"][0]["summary"] for e in events] == ["First"]


@pytest.mark.parametrize(("policy", "summary"), [("replace", "Second"), ("return_existing", "First")])
def test_duplicate_event_id_policy_decides_which_version_stays(
    lineworks: LineWorksClient, owner: str, policy: str, summary: str
) -> None:
    lineworks.configure(duplicate_event_id=policy)
    created(lineworks, owner, event_body(component("First", eventId="dup-1")))
    second = created(lineworks, owner, event_body(component("Second", eventId="dup-1")))
    assert second["eventComponents"][0]["summary"] == summary
    events = lineworks.state()["events"]
    assert [e["eventComponents"][0]["summary"] for e in events] == [summary]


# ---------------------------------------------------------------------------------- PUT / DELETE (2, 3.6, 3.8)


def test_put_replaces_the_whole_event(lineworks: LineWorksClient, owner: str) -> None:
    full = component(eventId="put-1", location="Room 1", attendees=[{"email": "guest@example.com"}])
    created(lineworks, owner, event_body(full, sendNotification=False))
    replacement = event_body(component("Renamed", eventId="put-1"), sendNotification=False)
    response = lineworks.call("PUT", events_path(owner, event_id="put-1"), json=replacement)
    assert response.status_code == 200, response.text
    [stored] = lineworks.call("GET", events_path(owner, event_id="put-1")).json()["eventComponents"]
    assert stored["summary"] == "Renamed"
    assert "location" not in stored
    assert "attendees" not in stored


def test_put_with_body_event_id_other_than_the_path_is_rejected(lineworks: LineWorksClient, owner: str) -> None:
    created(lineworks, owner, event_body(component(eventId="put-1")))
    response = lineworks.call("PUT", events_path(owner, event_id="put-1"), json=event_body(component(eventId="put-2")))
    assert_error(response, 400, "INVALID_PARAMETER", "eventId")


def test_put_of_unknown_event_is_not_found(lineworks: LineWorksClient, owner: str) -> None:
    response = lineworks.call("PUT", events_path(owner, event_id="nope"), json=event_body(component(eventId="nope")))
    assert_error(response, 404, "NOT_FOUND")


def test_delete_returns_204_and_the_event_is_gone(lineworks: LineWorksClient, owner: str) -> None:
    created(lineworks, owner, event_body(component(eventId="del-1")))
    response = lineworks.call("DELETE", events_path(owner, event_id="del-1"))
    assert response.status_code == 204
    assert response.content == b""
    assert_error(lineworks.call("GET", events_path(owner, event_id="del-1")), 404, "NOT_FOUND")


def test_delete_of_unknown_event_is_not_found(lineworks: LineWorksClient, owner: str) -> None:
    assert_error(lineworks.call("DELETE", events_path(owner, event_id="nope")), 404, "NOT_FOUND")


# ---------------------------------------------------------------------------------- notifications (3.6, 3.8)


def _invite(people: list[dict[str, Any]]) -> dict[str, Any]:
    """Organizer (people[0]) + two colleagues + an outside guest + a facility: 3 would be notified."""
    attendees = [
        {"email": people[0]["email"]},
        {"email": people[1]["email"]},
        {"email": people[2]["email"]},
        {"email": "guest@example.com"},
        {"id": "10000355/room-1", "isResource": True},
    ]
    return component(eventId="invite-1", attendees=attendees)


@pytest.mark.parametrize(("flag", "expected"), [(None, 3), (True, 3), (False, 0)])
def test_create_notifies_non_organizer_people_unless_disabled(
    lineworks: LineWorksClient, people: list[dict[str, Any]], flag: bool | None, expected: int
) -> None:
    extra = {} if flag is None else {"sendNotification": flag}
    created(lineworks, people[0]["userId"], event_body(_invite(people), **extra))
    assert notifications(lineworks) == expected


@pytest.mark.parametrize(("query", "expected"), [("", 3), ("?sendNotification=false", 0)])
def test_delete_notifies_attendees_unless_disabled(
    lineworks: LineWorksClient, people: list[dict[str, Any]], query: str, expected: int
) -> None:
    owner = people[0]["userId"]
    created(lineworks, owner, event_body(_invite(people), sendNotification=False))
    response = lineworks.call("DELETE", events_path(owner, event_id="invite-1") + query)
    assert response.status_code == 204, response.text
    assert notifications(lineworks) == expected


# ---------------------------------------------------------------------------------- event list (3.4, 3.7)


@pytest.mark.parametrize("missing", ["fromDateTime", "untilDateTime"])
def test_list_without_both_datetimes_is_rejected(lineworks: LineWorksClient, owner: str, missing: str) -> None:
    start, until = window(DAY)
    params = {"fromDateTime": start, "untilDateTime": until}
    params.pop(missing)
    assert_error(lineworks.call("GET", events_path(owner), params=params), 400, "INVALID_PARAMETER", missing)


def test_list_with_unencoded_plus_in_offset_is_rejected_mentioning_2b(lineworks: LineWorksClient, owner: str) -> None:
    query = "?fromDateTime=2026-11-16T00:00:00+09:00&untilDateTime=2026-11-17T00:00:00+09:00"
    response = lineworks.call("GET", events_path(owner) + query)
    assert_error(response, 400, "INVALID_PARAMETER", "%2B")
    assert lineworks.requests()[-1]["rawQuery"] == query[1:]  # the '+' really reached the server


def test_list_with_percent_encoded_plus_is_accepted(lineworks: LineWorksClient, owner: str) -> None:
    created(lineworks, owner, event_body(component(eventId="in-window")))
    query = "?fromDateTime=2026-11-16T00:00:00%2B09:00&untilDateTime=2026-11-17T00:00:00%2B09:00"
    response = lineworks.call("GET", events_path(owner) + query)
    assert response.status_code == 200, response.text
    assert [e["eventComponents"][0]["eventId"] for e in response.json()["events"]] == ["in-window"]


@pytest.mark.parametrize("default_calendar", [True, False], ids=["default-calendar", "calendar-id"])
def test_list_window_longer_than_31_days_is_rejected(
    lineworks: LineWorksClient, owner: str, default_calendar: bool
) -> None:
    calendar_id = None if default_calendar else lineworks.call("GET", f"/users/{owner}/calendar").json()["calendarId"]
    span = window("2026-11-01", days=31 + 1 / 86400)
    assert_error(list_events(lineworks, owner, span, calendar_id), 400, "INVALID_PARAMETER", "31")


def test_list_window_of_exactly_31_days_is_accepted(lineworks: LineWorksClient, owner: str) -> None:
    response = list_events(lineworks, owner, window("2026-11-01", days=31))
    assert response.status_code == 200, response.text
    assert response.json() == {"events": []}


@pytest.mark.parametrize("days", [0, -1], ids=["equal", "reversed"])
def test_list_until_not_after_from_is_rejected(lineworks: LineWorksClient, owner: str, days: int) -> None:
    response = list_events(lineworks, owner, window(DAY, days=days))
    assert_error(response, 400, "INVALID_PARAMETER", "untilDateTime")


def test_recurring_series_is_returned_once_unexpanded_for_a_later_window(
    lineworks: LineWorksClient, owner: str
) -> None:
    rule = ["RRULE:FREQ=WEEKLY;BYDAY=MO"]
    created(lineworks, owner, event_body(component(eventId="weekly", day="2026-10-05", recurrence=rule)))
    events = listed(lineworks, owner, window("2026-11-17", days=7))  # Tue..Mon: only the 11-23 occurrence
    assert len(events) == 1
    [master] = events[0]["eventComponents"]
    assert master["recurrence"] == rule
    assert master["start"] == timed("2026-10-05", "10:00:00")


def test_recurring_series_without_occurrence_in_the_window_is_not_returned(
    lineworks: LineWorksClient, owner: str
) -> None:
    rule = ["RRULE:FREQ=WEEKLY;BYDAY=MO"]
    created(lineworks, owner, event_body(component(eventId="weekly", day="2026-10-05", recurrence=rule)))
    assert listed_ids(lineworks, owner, window("2026-11-17", days=6)) == []  # Tue..Sun


def test_exception_component_is_returned_in_the_same_item_as_its_master(lineworks: LineWorksClient, owner: str) -> None:
    body = event_body(
        component(eventId="series", day="2026-10-05", recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO"]),
        component(
            "Moved",
            eventId="series",
            start="15:00:00",
            end="16:00:00",
            recurringEventId="TZID=Asia/Tokyo:20261116T100000",
        ),
    )
    created(lineworks, owner, body)
    events = listed(lineworks, owner, window(DAY))
    assert len(events) == 1
    components = events[0]["eventComponents"]
    assert {c["eventId"] for c in components} == {"series"}
    assert [c.get("recurringEventId") for c in components] == [None, "TZID=Asia/Tokyo:20261116T100000"]
    assert events[0]["organizerCalendarId"]


@pytest.mark.parametrize(
    ("start_clock", "hours", "expected"),
    [("09:00:00", 1, []), ("11:00:00", 1, []), ("10:30:00", 0.25, ["single"]), ("00:00:00", 24, ["single"])],
    ids=["ends-at-start", "starts-at-end", "inside", "whole-day"],
)
def test_list_returns_only_events_overlapping_the_window(
    lineworks: LineWorksClient, owner: str, start_clock: str, hours: float, expected: list[str]
) -> None:
    created(lineworks, owner, event_body(component(eventId="single")))  # 10:00-11:00
    span = window(DAY, days=hours / 24, start_clock=start_clock)
    assert listed_ids(lineworks, owner, span) == expected


@pytest.mark.parametrize(("day", "expected"), [("2026-11-19", []), ("2026-11-20", ["all-day"]), ("2026-11-21", [])])
def test_all_day_end_date_is_exclusive_in_the_users_zone(
    lineworks: LineWorksClient, people: list[dict[str, Any]], day: str, expected: list[str]
) -> None:
    user = next(u for u in people if u["timeZone"].startswith("America/"))  # far from UTC and Tokyo
    item = {"eventId": "all-day", "summary": "Holiday", "start": {"date": "2026-11-20"}, "end": {"date": "2026-11-21"}}
    created(lineworks, user["userId"], event_body(item))
    assert listed_ids(lineworks, user["userId"], window(day, tz=user["timeZone"])) == expected


# ---------------------------------------------------------------------------------- token endpoint (1.2-1.4, 1.7)


def test_jwt_grant_returns_string_expires_in_bearer_and_scope(lineworks: LineWorksClient) -> None:
    body = lineworks.fetch_token(scope="calendar user.read")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "86400"
    assert sorted(body["scope"].split()) == ["calendar", "user.read"]
    assert body["access_token"] and body["refresh_token"]


def test_wrong_client_secret_is_invalid_client(lineworks: LineWorksClient) -> None:
    assert_oauth_error(lineworks.token_request(client_secret="wrong"), 401, "invalid_client")


def _other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


@pytest.mark.parametrize(
    "assertion",
    [
        pytest.param(lambda: make_assertion(key=_other_private_key()), id="other-key"),
        pytest.param(lambda: make_assertion(lifetime=3601), id="lifetime-over-3600"),
        pytest.param(
            lambda: make_assertion(iat=str(int(time.time())), exp=str(int(time.time()) + 3600)), id="string-times"
        ),
        pytest.param(lambda: make_assertion(iss="someone-else"), id="wrong-iss"),
        pytest.param(lambda: make_assertion(sub="other.serviceaccount@demo.example.com"), id="wrong-sub"),
    ],
)
def test_bad_assertion_is_invalid_grant(lineworks: LineWorksClient, assertion: Any) -> None:
    assert_oauth_error(lineworks.token_request(assertion=assertion()), 400, "invalid_grant")


def test_assertion_lifetime_of_exactly_3600_is_accepted(lineworks: LineWorksClient) -> None:
    assert lineworks.token_request(assertion=make_assertion(lifetime=3600)).status_code == 200


def test_unknown_scope_is_invalid_scope(lineworks: LineWorksClient) -> None:
    response = lineworks.token_request(scope="calendar no.such.scope")
    assert_oauth_error(response, 400, "invalid_scope")
    assert response.json()["error_description"] == "Request scope is not valid."


def test_refresh_token_grant_returns_a_working_token(lineworks: LineWorksClient) -> None:
    first = lineworks.fetch_token()
    refreshed = lineworks.fetch_token(
        grant_type="refresh_token", refresh_token=first["refresh_token"], assertion=None, scope=None
    )
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["token_type"] == "Bearer" and isinstance(refreshed["expires_in"], str)
    assert lineworks.call("GET", "/users", token=refreshed["access_token"]).status_code == 200


def test_token_request_as_json_is_rejected(lineworks: LineWorksClient) -> None:
    form = {
        "grant_type": JWT_GRANT,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "assertion": make_assertion(),
        "scope": "calendar",
    }
    response = lineworks.http.post(f"{lineworks.base}/oauth2/v2.0/token", json=form, timeout=10)
    assert_oauth_error(response, 400, "invalid_request")


# ---------------------------------------------------------------------------------- resource auth (1.1, 2, 8)


def test_call_without_token_is_unauthorized(lineworks: LineWorksClient) -> None:
    assert_error(lineworks.http.get(f"{lineworks.base}/v1.0/users", timeout=10), 401, "UNAUTHORIZED")


def test_call_with_unknown_token_is_unauthorized(lineworks: LineWorksClient) -> None:
    assert_error(lineworks.call("GET", "/users", token="garbage"), 401, "UNAUTHORIZED")


def test_token_past_its_lifetime_is_unauthorized(lineworks: LineWorksClient) -> None:
    lineworks.configure(token_lifetime_s=1)
    token = lineworks.fetch_token()
    assert token["expires_in"] == "1"
    assert lineworks.call("GET", "/users", token=token["access_token"]).status_code == 200
    time.sleep(1.1)
    assert_error(lineworks.call("GET", "/users", token=token["access_token"]), 401, "UNAUTHORIZED", "expired")


def test_expire_tokens_inspection_makes_tokens_unauthorized(lineworks: LineWorksClient) -> None:
    assert lineworks.call("GET", "/users").status_code == 200
    lineworks.http.post(f"{lineworks.base}/_emulator/expire-tokens", timeout=10).raise_for_status()
    assert_error(lineworks.call("GET", "/users"), 401, "UNAUTHORIZED")


def test_token_without_calendar_scope_is_forbidden_on_events(lineworks: LineWorksClient, owner: str) -> None:
    directory_only = LineWorksClient(lineworks.base, scope="user.read")
    assert directory_only.call("GET", "/users").status_code == 200
    assert_error(list_events(directory_only, owner, window(DAY)), 403, "FORBIDDEN", "calendar")


def test_calendar_read_scope_can_list_but_not_create(lineworks: LineWorksClient, owner: str) -> None:
    reader = LineWorksClient(lineworks.base, scope="calendar.read")
    assert list_events(reader, owner, window(DAY)).status_code == 200
    assert_error(create(reader, owner, event_body()), 403, "FORBIDDEN")
    assert lineworks.state()["eventCount"] == 0


def test_me_with_a_service_account_token_is_forbidden(lineworks: LineWorksClient) -> None:
    assert_error(lineworks.call("GET", "/users/me"), 403, "FORBIDDEN", "me")


def test_me_with_a_user_token_is_that_user(lineworks: LineWorksClient, people: list[dict[str, Any]]) -> None:
    user = people[3]
    token = user_token(lineworks, user["userId"])
    response = lineworks.call("GET", "/users/me", token=token)
    assert response.status_code == 200, response.text
    assert (response.json()["userId"], response.json()["email"]) == (user["userId"], user["email"])
    own = lineworks.call("POST", events_path("me"), token=token, json=event_body())
    assert own.status_code == 201, own.text
    assert own.json()["eventComponents"][0]["organizer"]["email"] == user["email"]


# ---------------------------------------------------------------------------------- rate limits (4)


RATE_HEADERS = ("rateLimit-limit", "rateLimit-remaining", "rateLimit-reset", "rateLimit-used")


def test_rate_limit_is_per_operation_and_per_window(lineworks: LineWorksClient) -> None:
    lineworks.configure(rate_limit_per_minute=5, time_scale=60)  # a 1-second "minute"
    responses = [lineworks.call("GET", "/users") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    for n, ok in enumerate(responses[:5], start=1):
        assert all(name in ok.headers for name in RATE_HEADERS)
        assert (ok.headers["rateLimit-limit"], ok.headers["rateLimit-used"], ok.headers["rateLimit-remaining"]) == (
            "5",
            str(n),
            str(5 - n),
        )
    limited = responses[5]
    assert limited.json() == {"code": "TOO_MANY_REQUESTS", "description": "API rate limit exceeded"}
    assert (limited.headers["rateLimit-limit"], limited.headers["rateLimit-remaining"]) == ("5", "0")
    assert limited.headers["rateLimit-used"] == "5"
    assert 0 < float(limited.headers["rateLimit-reset"]) <= 1
    user_id = responses[0].json()["users"][0]["userId"]
    assert lineworks.call("GET", f"/users/{user_id}").status_code == 200  # another operation
    time.sleep(1.1)
    assert lineworks.call("GET", "/users").status_code == 200


# ---------------------------------------------------------------------------------- calendars and users (3.3, 5)


def test_created_calendar_is_listed_for_its_members(lineworks: LineWorksClient, people: list[dict[str, Any]]) -> None:
    name = "n" * 50
    response = new_calendar(
        lineworks, name, [(people[1]["email"], "CALENDAR_EVENT_READ_WRITE"), (people[2]["email"], "EVENT_READ")]
    )
    assert response.status_code == 201, response.text
    calendar = response.json()
    assert calendar["calendarName"] == name and calendar["calendarId"]
    assert [m["role"] for m in calendar["members"]] == ["CALENDAR_EVENT_READ_WRITE", "EVENT_READ"]
    for member, visible in ((people[1], True), (people[2], True), (people[0], False)):
        personals = lineworks.call("GET", f"/users/{member['userId']}/calendar-personals").json()["calendarPersonals"]
        assert (calendar["calendarId"] in {p["calendarId"] for p in personals}) is visible


def test_calendar_name_longer_than_50_is_rejected(lineworks: LineWorksClient, people: list[dict[str, Any]]) -> None:
    response = new_calendar(lineworks, "n" * 51, [(people[1]["email"], "CALENDAR_EVENT_READ_WRITE")])
    assert_error(response, 400, "INVALID_PARAMETER", "calendarName")


@pytest.fixture()
def shared_calendar(lineworks: LineWorksClient, people: list[dict[str, Any]]) -> dict[str, Any]:
    """A shared calendar: people[1] manages it, people[2] may only read; people[0] is no member."""
    members = [(people[1]["email"], "CALENDAR_EVENT_READ_WRITE"), (people[2]["email"], "EVENT_READ")]
    response = new_calendar(lineworks, "Team", members)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_event_in_shared_calendar_is_organized_by_the_calendar_email(
    lineworks: LineWorksClient, people: list[dict[str, Any]], shared_calendar: dict[str, Any]
) -> None:
    calendar_id = shared_calendar["calendarId"]
    body = created(lineworks, people[1]["userId"], event_body(), calendar_id)
    assert body["organizerCalendarId"] == calendar_id
    assert body["eventComponents"][0]["organizer"]["email"] == shared_calendar["calendarEmail"]
    assert len(listed(lineworks, people[2]["userId"], window(DAY), calendar_id)) == 1


def test_non_member_is_forbidden_on_a_shared_calendar(
    lineworks: LineWorksClient, people: list[dict[str, Any]], shared_calendar: dict[str, Any]
) -> None:
    outsider, calendar_id = people[0]["userId"], shared_calendar["calendarId"]
    assert_error(list_events(lineworks, outsider, window(DAY), calendar_id), 403, "FORBIDDEN")
    assert_error(create(lineworks, outsider, event_body(), calendar_id), 403, "FORBIDDEN")


def test_read_only_member_cannot_create_events(
    lineworks: LineWorksClient, people: list[dict[str, Any]], shared_calendar: dict[str, Any]
) -> None:
    assert_error(create(lineworks, people[2]["userId"], event_body(), shared_calendar["calendarId"]), 403, "FORBIDDEN")


def test_delete_calendar_returns_204_and_it_is_gone(
    lineworks: LineWorksClient, shared_calendar: dict[str, Any]
) -> None:
    path = f"/calendars/{shared_calendar['calendarId']}"
    response = lineworks.call("DELETE", path)
    assert response.status_code == 204, response.text
    assert_error(lineworks.call("GET", path), 404, "NOT_FOUND")


@pytest.mark.parametrize(("count", "status"), [(50, 200), (51, 400)])
def test_calendar_personals_count_is_at_most_50(
    lineworks: LineWorksClient, owner: str, count: int, status: int
) -> None:
    response = lineworks.call("GET", f"/users/{owner}/calendar-personals", params={"count": count})
    assert response.status_code == status, response.text
    if status == 400:
        assert_error(response, 400, "INVALID_PARAMETER", "count")


def test_user_cursor_paging_visits_every_user_once(lineworks: LineWorksClient, people: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"count": 5}
    while True:
        page = lineworks.call("GET", "/users", params=params).json()
        assert len(page["users"]) <= 5
        seen += [u["userId"] for u in page["users"]]
        cursor = page["responseMetaData"]["nextCursor"]
        if not cursor:
            break
        params["cursor"] = cursor
    assert len(seen) > 5
    assert sorted(seen) == sorted(u["userId"] for u in people)


def test_user_by_email_and_by_id_agree(lineworks: LineWorksClient, people: list[dict[str, Any]]) -> None:
    user = people[4]
    by_email = lineworks.user(user["email"])
    assert by_email == lineworks.user(user["userId"]) == user


# ---------------------------------------------------------------------------------- inspection API


def test_request_log_records_method_path_query_headers_and_status(lineworks: LineWorksClient) -> None:
    lineworks.call("GET", "/users", params={"count": 3}, headers={"X-Probe": "yes"})
    lineworks.call("GET", "/users/nobody@example.com")
    ok, missing = lineworks.requests()[-2:]
    assert (ok["method"], ok["path"], ok["query"], ok["status"]) == ("GET", "/v1.0/users", {"count": ["3"]}, 200)
    assert ok["headers"]["X-Probe"] == "yes"
    assert ok["headers"]["Authorization"] == f"Bearer {lineworks.token}"
    assert (missing["path"], missing["status"]) == ("/v1.0/users/nobody@example.com", 404)


def test_reset_empties_events(lineworks: LineWorksClient, owner: str) -> None:
    created(lineworks, owner, event_body())
    assert lineworks.state()["eventCount"] == 1
    lineworks.http.post(f"{lineworks.base}/_emulator/reset", json={}, timeout=10).raise_for_status()
    assert lineworks.state()["eventCount"] == 0


def test_seeded_event_is_listable(lineworks: LineWorksClient, owner: str) -> None:
    calendar_id = lineworks.call("GET", f"/users/{owner}/calendar").json()["calendarId"]
    seed = {"events": [{"eventComponents": [component(eventId="seeded-1")], "organizerCalendarId": calendar_id}]}
    lineworks.http.post(f"{lineworks.base}/_emulator/seed", json=seed, timeout=10).raise_for_status()
    assert listed_ids(lineworks, owner, window(DAY)) == ["seeded-1"]


def test_latency_fault_delays_calls(lineworks: LineWorksClient) -> None:
    lineworks.faults(latency_ms=200)
    began = time.monotonic()
    assert lineworks.call("GET", "/users").status_code == 200
    assert time.monotonic() - began >= 0.2


def test_error_fault_answers_5xx_in_the_api_error_format(lineworks: LineWorksClient) -> None:
    lineworks.faults(error_rate=1.0)
    response = lineworks.call("GET", "/users")
    assert response.status_code in {500, 502, 503}
    assert set(response.json()) == {"code", "description"}


def test_reset_fault_drops_the_connection(lineworks: LineWorksClient) -> None:
    lineworks.faults(reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        lineworks.call("GET", "/users")


def test_reset_clears_faults(lineworks: LineWorksClient) -> None:
    lineworks.faults(error_rate=1.0)
    lineworks.http.post(f"{lineworks.base}/_emulator/reset", json={}, timeout=10).raise_for_status()
    assert lineworks.http.get(f"{lineworks.base}/_emulator/faults", timeout=10).json()["error_rate"] == 0
    lineworks.token = lineworks.fetch_token()["access_token"]  # reset also forgets issued tokens
    assert lineworks.call("GET", "/users").status_code == 200
