"""Tests for the Garoon REST emulator (include/emulators/garoon.py).

The rules come from the fact sheet ``shared/reference/garoon-api.md`` (section numbers below)
and the source document 003 (POST /schedule/events and its conditional-required fields).
Every test talks to the emulator over real HTTP through the fixtures in ``fixtures.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from include.emulators import Emulators
from include.emulators.tenant import ADMIN_LOGIN, DemoTenant, expected_repeat_dates
from tests.emulators.fixtures import GaroonClient

Json = dict[str, Any]

EVENTS = "/schedule/events"
USER_API = "/v1/users.json"
TOKYO = "Asia/Tokyo"
ATTENDEE = "sato-ken"  # a demo user's login name
OTHER_ATTENDEE = "emily-clark"
FAR_DAY = "2030-03-04"  # no demo event is near: our facility bookings never clash with demo data
SERIES_ID = "900001"  # id of the series the repeating tests seed
DIGITS = re.compile(r"^\d+$")
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ADMIN_REF = {"id": "1", "code": ADMIN_LOGIN, "name": "Administrator"}

# The request body of the user's example in source document 003's comment thread ("xxxxx" -> a demo user).
COMMENT_THREAD_EXAMPLE: Json = {
    "eventType": "REGULAR",
    "eventMenu": "打合せ",
    "subject": "インポートした予定",
    "notes": "別システムから\nインポート",
    "visibilityType": "PRIVATE",
    "start": {"dateTime": "2018-10-16T00:00:00+09:00", "timeZone": TOKYO},
    "end": {"dateTime": "2018-10-16T23:59:59+09:00", "timeZone": TOKYO},
    "isAllDay": True,
    "isStartOnly": False,
    "attendees": [{"code": ATTENDEE, "type": "USER"}],
}


# ---------------------------------------------------------------------------------------------- helpers


def at(clock: str, day: str = FAR_DAY, zone: str = TOKYO, offset: str = "+09:00") -> Json:
    """Return a Garoon ``{dateTime, timeZone}`` object."""
    return {"dateTime": f"{day}T{clock}{offset}", "timeZone": zone}


def user(code: str) -> Json:
    return {"type": "USER", "code": code}


def facility(code: str) -> Json:
    return {"code": code}


def event_body(**overrides: Any) -> Json:
    """Return a valid REGULAR event (10:00-11:00 on FAR_DAY, one attendee); ``None`` removes a key."""
    body: Json = {
        "eventType": "REGULAR",
        "subject": "emulator test",
        "start": at("10:00:00"),
        "end": at("11:00:00"),
        "attendees": [user(ATTENDEE)],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def parse(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, value
    return moment


def key(event: Json) -> tuple[str, str | None]:
    """Return what identifies a list item: occurrences share ``id`` (fact sheet 9.3)."""
    return event["id"], event.get("repeatId")


def expect_error(response: requests.Response, status: int, code: str) -> Json:
    """Assert a Garoon error: status, ``error.errorCode`` and the ``X-Cybozu-Error`` header (fact sheet 7)."""
    assert response.status_code == status, response.text
    assert response.headers.get("X-Cybozu-Error") == code
    error = response.json()["error"]
    assert error["errorCode"] == code, error
    assert error["message"]
    return dict(error)


def expect_user_api_error(response: requests.Response, status: int) -> Json:
    """Assert a cybozu.com user API error: ``{"code", "id", "message"}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "id", "message"}, body
    return dict(body)


def create(garoon: GaroonClient, body: Json) -> Json:
    response = garoon.api("POST", EVENTS, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def login_as(garoon: GaroonClient, code: str) -> GaroonClient:
    """Return a client of the same emulator logged in as ``code`` (every demo user has DEMO_PASSWORD)."""
    return GaroonClient(garoon.base, login=code)


def event_count(garoon: GaroonClient) -> int:
    return int(garoon.state()["eventCount"])


def walk(
    fetch: Callable[[int, int], requests.Response], items_key: str, limit: int, *, by: str = "returned"
) -> list[Json]:
    """Return every page body, advancing ``offset`` by the items returned (``by="returned"``) or by ``limit``."""
    pages: list[Json] = []
    offset = 0
    while True:
        response = fetch(limit, offset)
        assert response.status_code == 200, response.text
        body = dict(response.json())
        pages.append(body)
        assert len(pages) < 1000, "paging does not end"
        if not body["hasNext"]:
            return pages
        offset += len(body[items_key]) if by == "returned" else limit


def event_pages(garoon: GaroonClient, limit: int, *, by: str = "returned", **params: Any) -> list[Json]:
    return walk(
        lambda lim, off: garoon.api("GET", EVENTS, params={**params, "limit": lim, "offset": off}),
        "events",
        limit,
        by=by,
    )


def items_of(pages: list[Json], items_key: str = "events") -> list[Json]:
    return [item for page in pages for item in page[items_key]]


def involves(event: Json, person: Json) -> bool:
    """Return whether ``person`` created or attends ``event`` (directly or through an organization)."""
    if event["creator"]["id"] == person["id"]:
        return True
    return any(
        (a["type"] == "USER" and a["id"] == person["id"])
        or (a["type"] == "ORGANIZATION" and a["id"] in person["organizations"])
        for a in event["attendees"]
    )


def masters(tenant: DemoTenant) -> list[Json]:
    return [e for e in tenant.garoon_events if e["eventType"] == "REPEATING" and "repeatId" not in e]


def overrides(tenant: DemoTenant) -> list[Json]:
    return [e for e in tenant.garoon_events if "repeatId" in e]


def first_user_attendee(event: Json) -> str:
    return str(next(a["id"] for a in event["attendees"] if a["type"] == "USER"))


def series_items(garoon: GaroonClient, master: Json) -> list[Json]:
    """Return the listed occurrences of ``master``: target = one of its attendees, a range wider than its period."""
    period = master["repeatInfo"]["period"]
    start = dt.date.fromisoformat(period["start"]) - dt.timedelta(days=2)
    end = dt.date.fromisoformat(period["end"]) + dt.timedelta(days=2)
    listed = garoon.all_events(
        target=first_user_attendee(master),
        targetType="user",
        rangeStart=f"{start}T00:00:00Z",
        rangeEnd=f"{end}T00:00:00Z",
    )
    return [e for e in listed if e["id"] == master["id"]]


def local_date(item: Json, zone: str) -> dt.date:
    return parse(item["start"]["dateTime"]).astimezone(ZoneInfo(zone)).date()


def repeat_info(kind: str, first: str, last: str, **extra: Any) -> Json:
    return {
        "type": kind,
        "period": {"start": first, "end": last},
        "time": {"start": "10:00", "end": "11:00"},
        "timeZone": TOKYO,
        "isAllDay": False,
        "isStartOnly": False,
        "exclusiveDateTimes": [],
        **extra,
    }


def seeded_master(info: Json) -> Json:
    """Return a REPEATING master the administrator created and attends."""
    return {
        "id": SERIES_ID,
        "eventType": "REPEATING",
        "subject": "seeded series",
        "creator": ADMIN_REF,
        "attendees": [{**ADMIN_REF, "type": "USER"}],
        "visibilityType": "PUBLIC",
        "repeatInfo": info,
    }


def seeded_occurrence(day: str, subject: str) -> Json:
    return {
        "id": SERIES_ID,
        "repeatId": day.replace("-", "") + "1000",
        "eventType": "REPEATING",
        "subject": subject,
        "start": at("10:00:00", day),
        "end": at("11:00:00", day),
    }


def mint_token(
    garoon: GaroonClient, login: str = ADMIN_LOGIN, scope: str | None = None, expires_in: float = 3600
) -> str:
    body: Json = {"login": login, "expires_in": expires_in}
    if scope is not None:
        body["scope"] = scope
    response = garoon.http.post(f"{garoon.base}/_emulator/oauth-token", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(garoon: GaroonClient, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    """Call with ``Authorization: Bearer`` only (no X-Cybozu-Authorization)."""
    return garoon.call(method, path, auth="", headers={"Authorization": f"Bearer {token}"}, **kwargs)


@pytest.fixture()
def tenant(emulators: Emulators) -> DemoTenant:
    return emulators.tenant


@pytest.fixture()
def org_ids(tenant: DemoTenant) -> dict[str, str]:
    return {o["code"]: o["id"] for o in tenant.garoon_organizations}


@pytest.fixture()
def private_case(tenant: DemoTenant) -> tuple[Json, Json, Json]:
    """Return (a PRIVATE one-off demo event, a user who attends it, a user who does not)."""
    people = tenant.garoon_users[1:]
    for event in tenant.garoon_events:
        if event["visibilityType"] != "PRIVATE" or event["eventType"] == "REPEATING":
            continue
        insider = next(u for u in people if involves(event, u))
        outsider = next((u for u in people if not involves(event, u)), None)
        if outsider is not None:
            return event, insider, outsider
    raise AssertionError("the demo tenant has no PRIVATE event with an outsider")


def around(event: Json) -> Json:
    """Return rangeStart/rangeEnd an hour around ``event``."""
    start = parse(event["start"]["dateTime"])
    end = parse(event["end"]["dateTime"]) if "end" in event else start
    hour = dt.timedelta(hours=1)
    return {"rangeStart": (start - hour).isoformat(), "rangeEnd": (end + hour).isoformat()}


# ---------------------------------------------------------------------------------------------- POST (doc 003)


def test_comment_thread_example_body_is_accepted_as_a_schedule_object(garoon: GaroonClient, tenant: DemoTenant) -> None:
    response = garoon.api("POST", EVENTS, json=COMMENT_THREAD_EXAMPLE)

    assert 200 <= response.status_code < 300, response.text
    event = response.json()
    assert DIGITS.match(event["id"])
    assert event["creator"] == ADMIN_REF
    assert UTC_Z.match(event["createdAt"]) and UTC_Z.match(event["updatedAt"])
    assert event["eventType"] == "REGULAR"
    assert event["visibilityType"] == "PRIVATE"
    assert event["isAllDay"] is True and event["isStartOnly"] is False
    assert (event["eventMenu"], event["subject"], event["notes"]) == (
        "打合せ",
        "インポートした予定",
        "別システムから\nインポート",
    )
    for name, expected in (("start", "2018-10-16T00:00:00+09:00"), ("end", "2018-10-16T23:59:59+09:00")):
        assert set(event[name]) == {"dateTime", "timeZone"}
        assert event[name]["timeZone"] == TOKYO
        assert parse(event[name]["dateTime"]) == parse(expected)
    sato = next(u for u in tenant.garoon_users if u["code"] == ATTENDEE)
    [attendee] = event["attendees"]
    assert {k: attendee[k] for k in ("id", "code", "name", "type")} == {
        "id": sato["id"],
        "code": ATTENDEE,
        "name": sato["name"],
        "type": "USER",
    }
    assert attendee["attendanceResponse"]["status"] in {"PENDING", "ACCEPTED", "DECLINED"}
    assert garoon.api("GET", f"{EVENTS}/{event['id']}").json() == event


def test_body_with_every_documented_field_is_stored(garoon: GaroonClient, org_ids: dict[str, str]) -> None:
    company = {
        "name": "Acme Corp",
        "zipCode": "94105",
        "address": "1 Market St",
        "route": "BART",
        "routeTime": "10",
        "routeFare": "2.5",
        "phone": "+1-415-555-0100",
    }
    body = event_body(
        eventMenu="会議",
        subject="全項目",
        notes="line 1\nline 2",
        companyInfo=company,
        visibilityType="PUBLIC",
        useAttendanceCheck=True,
        isAllDay=False,
        isStartOnly=False,
        attendees=[user(ATTENDEE), {"type": "ORGANIZATION", "code": "dev"}],
        facilities=[facility("large-hall")],
        facilityUsingPurpose="Town hall meeting",
        additionalItems={"item": {"value": "external-id-42"}},
        attachments=[{"name": "agenda.txt", "content": b64("hello")}],
    )
    created = create(garoon, body)

    stored = garoon.api("GET", f"{EVENTS}/{created['id']}").json()
    assert stored["additionalItems"] == {"item": {"value": "external-id-42"}}
    assert stored["companyInfo"] == company
    assert (stored["eventMenu"], stored["subject"], stored["notes"]) == ("会議", "全項目", "line 1\nline 2")
    assert stored["useAttendanceCheck"] is True
    assert stored["facilityUsingPurpose"] == "Town hall meeting"
    assert [f["code"] for f in stored["facilities"]] == ["large-hall"]
    assert [(a["type"], a["code"]) for a in stored["attendees"]] == [("USER", ATTENDEE), ("ORGANIZATION", "dev")]
    assert stored["attendees"][1]["id"] == org_ids["dev"]
    [attachment] = stored["attachments"]
    assert (attachment["name"], attachment["size"]) == ("agenda.txt", "5")  # size is a string (fact sheet 4.7)


@pytest.mark.parametrize("menu", ["-----", None], ids=["default-menu", "omitted"])
def test_default_event_menu_is_stored_as_empty_string(garoon: GaroonClient, menu: str | None) -> None:
    assert create(garoon, event_body(eventMenu=menu))["eventMenu"] == ""


def test_attendee_id_wins_over_code(garoon: GaroonClient, tenant: DemoTenant) -> None:
    emily = next(u for u in tenant.garoon_users if u["code"] == OTHER_ATTENDEE)
    event = create(garoon, event_body(attendees=[{"type": "USER", "id": emily["id"], "code": ATTENDEE}]))
    assert [a["code"] for a in event["attendees"]] == [OTHER_ATTENDEE]


def test_start_only_event_is_accepted_and_has_no_end(garoon: GaroonClient) -> None:
    event = create(garoon, event_body(end=None, isStartOnly=True))
    stored = garoon.api("GET", f"{EVENTS}/{event['id']}").json()
    assert "end" not in stored
    assert stored["isStartOnly"] is True
    assert parse(stored["start"]["dateTime"]) == parse(f"{FAR_DAY}T10:00:00+09:00")


def test_all_day_period_event_runs_from_first_midnight_to_last_day_end(garoon: GaroonClient) -> None:
    event = create(garoon, event_body(eventType="ALL_DAY", start=at("10:00:00"), end=at("15:00:00", "2030-03-06")))
    assert event["eventType"] == "ALL_DAY"
    assert parse(event["start"]["dateTime"]) == parse(f"{FAR_DAY}T00:00:00+09:00")
    assert parse(event["end"]["dateTime"]) == parse("2030-03-06T23:59:59+09:00")


def test_set_private_watchers_is_accepted_on_package_garoon(garoon: GaroonClient) -> None:
    garoon.configure(cloud=False)
    event = create(garoon, event_body(visibilityType="SET_PRIVATE_WATCHERS", watchers=[user(OTHER_ATTENDEE)]))
    assert [w["code"] for w in event["watchers"]] == [OTHER_ATTENDEE]


# One row per conditional-required rule of document 003 (codes: fact sheet section 7).
REFUSED_BODIES = [
    pytest.param({"eventType": None}, 400, "GRN_REST_API_00201", id="eventType-missing"),
    pytest.param({"eventType": "REPEATING"}, 400, "GRN_REST_API_00212", id="eventType-REPEATING"),
    pytest.param({"eventType": "TEMPORARY"}, 400, "GRN_REST_API_00212", id="eventType-TEMPORARY"),
    pytest.param({"start": None}, 400, "GRN_REST_API_00201", id="start-missing"),
    pytest.param(
        {"start": {"dateTime": f"{FAR_DAY}T10:00:00+09:00"}}, 400, "GRN_REST_API_00201", id="start-timeZone-missing"
    ),
    pytest.param(
        {"start": at("10:00:00", zone="Africa/Abidjan")}, 400, "GRN_REST_API_00221", id="zone-not-in-garoon-list"
    ),
    pytest.param({"start": at("10:00:00", zone="Mars/Olympus")}, 400, "GRN_REST_API_00221", id="zone-unknown"),
    pytest.param({"start": at("10:00:00", offset="")}, 400, "GRN_REST_API_00220", id="dateTime-without-offset"),
    pytest.param({"end": at("11:00:00", offset="")}, 400, "GRN_REST_API_00220", id="end-without-offset"),
    pytest.param({"attendees": None}, 400, "GRN_REST_API_00229", id="neither-attendees-nor-facilities"),
    pytest.param({"attendees": []}, 400, "GRN_REST_API_00229", id="empty-attendees-no-facilities"),
    pytest.param({"end": None}, 400, "GRN_REST_API_00224", id="no-end-isStartOnly-omitted"),
    pytest.param({"end": None, "isStartOnly": False}, 400, "GRN_REST_API_00224", id="no-end-isStartOnly-false"),
    pytest.param({"isStartOnly": True, "isAllDay": True}, 400, "GRN_REST_API_00223", id="isStartOnly-and-isAllDay"),
    pytest.param(
        {"end": None, "isStartOnly": True, "facilities": [facility("room-a")]},
        400,
        "GRN_REST_API_00201",
        id="end-required-with-facilities",
    ),
    pytest.param({"eventType": "ALL_DAY", "end": None}, 400, "GRN_REST_API_00201", id="end-required-for-ALL_DAY"),
    pytest.param({"end": at("09:59:59")}, 400, "GRN_REST_API_00203", id="end-before-start"),
    pytest.param({"isAllDay": True, "facilities": [facility("room-a")]}, 400, "GRN_SCHD_13207", id="facility-all-day"),
    pytest.param(
        {"eventType": "ALL_DAY", "facilities": [facility("room-a")]}, 400, "GRN_SCHD_13207", id="facility-ALL_DAY"
    ),
    pytest.param({"facilities": [facility("large-hall")]}, 400, "GRN_REST_API_00201", id="facility-needs-purpose"),
    pytest.param({"facilities": [facility("no-such-room")]}, 404, "GRN_SCHD_13203", id="facility-unknown"),
    pytest.param(
        {"visibilityType": "SET_PRIVATE_WATCHERS", "watchers": [user(OTHER_ATTENDEE)]},
        400,
        "GRN_REST_API_00226",
        id="SET_PRIVATE_WATCHERS-on-cloud",
    ),
    pytest.param({"visibilityType": "SECRET"}, 400, "GRN_REST_API_00212", id="visibilityType-unknown"),
    pytest.param({"attendees": [user("no-such-user")]}, 400, "GRN_REST_API_00206", id="attendee-code-unknown"),
    pytest.param({"attendees": [{"type": "USER", "id": "99999"}]}, 400, "GRN_REST_API_00206", id="attendee-id-unknown"),
    pytest.param({"attendees": [{"type": "USER"}]}, 400, "GRN_REST_API_00201", id="attendee-without-id-or-code"),
    pytest.param({"attendees": [{"type": "ROLE", "code": "x"}]}, 400, "GRN_REST_API_00212", id="attendee-type-ROLE"),
    pytest.param({"isAllDay": "true"}, 400, "GRN_REST_API_00213", id="boolean-as-string"),
    pytest.param(
        {"attachments": [{"name": "a.txt", "content": "not base64!"}]},
        400,
        "GRN_REST_API_00202",
        id="attachment-not-base64",
    ),
    pytest.param(
        {"attachments": [{"name": "a.txt", "content": "\x80"}]}, 400, "GRN_REST_API_00202", id="attachment-non-ascii"
    ),
    # wrong JSON types must be refused, not crash the server
    pytest.param({"eventType": ["REGULAR"]}, 400, "GRN_REST_API_00212", id="eventType-array"),
    pytest.param({"visibilityType": {"v": "PUBLIC"}}, 400, "GRN_REST_API_00212", id="visibilityType-object"),
    pytest.param(
        {"attendees": [{"type": ["USER"], "code": ATTENDEE}]}, 400, "GRN_REST_API_00212", id="attendee-type-array"
    ),
    pytest.param(
        {"facilities": [{"id": ["501"], "code": "room-a"}]}, 400, "GRN_REST_API_00213", id="facility-id-array"
    ),
]


@pytest.mark.parametrize(("changes", "status", "code"), REFUSED_BODIES)
def test_create_refuses_body_breaking_a_rule(garoon: GaroonClient, changes: Json, status: int, code: str) -> None:
    before = event_count(garoon)
    expect_error(garoon.api("POST", EVENTS, json=event_body(**changes)), status, code)
    assert event_count(garoon) == before


def test_facility_double_booking_is_refused(garoon: GaroonClient) -> None:
    create(garoon, event_body(facilities=[facility("room-a")]))

    clash = event_body(start=at("10:30:00"), end=at("11:30:00"), facilities=[facility("room-a")])
    expect_error(garoon.api("POST", EVENTS, json=clash), 400, "GRN_SCHD_13208")
    create(garoon, event_body(start=at("11:00:00"), end=at("12:00:00"), facilities=[facility("room-a")]))  # adjacent
    create(garoon, event_body(start=at("10:30:00"), end=at("11:30:00"), facilities=[facility("room-b")]))  # other room


def test_facility_booked_by_a_demo_event_is_refused(garoon: GaroonClient, tenant: DemoTenant) -> None:
    booked = next(e for e in tenant.garoon_events if e.get("facilities") and e["eventType"] == "REGULAR")
    body = event_body(start=booked["start"], end=booked["end"], facilities=[{"id": booked["facilities"][0]["id"]}])
    if booked.get("facilityUsingPurpose"):
        body["facilityUsingPurpose"] = "again"
    expect_error(garoon.api("POST", EVENTS, json=body), 400, "GRN_SCHD_13208")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_create_without_json_content_type_is_415(garoon: GaroonClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = garoon.api("POST", EVENTS, data=json.dumps(event_body()).encode(), headers=headers)
    expect_error(response, 415, "GRN_REST_API_00103")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        pytest.param("GET", "/schedule/nothing", 400, "GRN_REST_API_00101", id="unknown-path"),
        pytest.param("PUT", EVENTS, 405, "GRN_REST_API_00102", id="PUT-events"),
        pytest.param("DELETE", "/base/users", 405, "GRN_REST_API_00102", id="DELETE-users"),
    ],
)
def test_unknown_path_and_unsupported_method_use_garoon_codes(
    garoon: GaroonClient, method: str, path: str, status: int, code: str
) -> None:
    expect_error(garoon.api(method, path), status, code)


LONE_SURROGATE = json.dumps(event_body(subject="\ud800")).encode()  # valid JSON syntax, invalid Unicode


@pytest.mark.parametrize(
    "payload",
    [b'{"eventType": "REGULAR",', b"not json", b"[1, 2]", b"", b"\xff\xfe{}", LONE_SURROGATE],
    ids=["truncated", "not-json", "array", "empty", "not-utf8", "lone-surrogate"],
)
def test_create_with_malformed_json_is_400_00105(garoon: GaroonClient, payload: bytes) -> None:
    response = garoon.api("POST", EVENTS, data=payload, headers={"Content-Type": "application/json"})
    expect_error(response, 400, "GRN_REST_API_00105")


# ---------------------------------------------------------------------------------------------- PATCH (4.4)


@pytest.fixture()
def meeting(garoon: GaroonClient) -> Json:
    """Return an event we created: two attendees and a menu."""
    return create(garoon, event_body(eventMenu="会議", attendees=[user(ATTENDEE), user(OTHER_ATTENDEE)]))


def patch(garoon: GaroonClient, event_id: str, **changes: Any) -> requests.Response:
    body = {k: v for k, v in {"start": at("10:00:00"), "end": at("11:00:00"), **changes}.items() if v is not None}
    return garoon.api("PATCH", f"{EVENTS}/{event_id}", json=body)


def test_patch_requires_start(garoon: GaroonClient, meeting: Json) -> None:
    expect_error(patch(garoon, meeting["id"], start=None, attendees=[user(ATTENDEE)]), 400, "GRN_REST_API_00201")
    assert garoon.api("GET", f"{EVENTS}/{meeting['id']}").json() == meeting


def test_patch_replaces_the_whole_attendee_list(garoon: GaroonClient, meeting: Json) -> None:
    response = patch(garoon, meeting["id"], attendees=[user(OTHER_ATTENDEE)], eventMenu="会議")
    assert response.status_code == 200, response.text
    stored = garoon.api("GET", f"{EVENTS}/{meeting['id']}").json()
    assert [a["code"] for a in stored["attendees"]] == [OTHER_ATTENDEE]


def test_patch_with_empty_attendees_and_a_facility_clears_attendees(garoon: GaroonClient, meeting: Json) -> None:
    response = patch(garoon, meeting["id"], attendees=[], facilities=[facility("room-b")])
    assert response.status_code == 200, response.text
    stored = garoon.api("GET", f"{EVENTS}/{meeting['id']}").json()
    assert stored["attendees"] == []
    assert [f["code"] for f in stored["facilities"]] == ["room-b"]


def test_patch_with_empty_attendees_and_no_facility_is_refused(garoon: GaroonClient, meeting: Json) -> None:
    expect_error(patch(garoon, meeting["id"], attendees=[]), 400, "GRN_REST_API_00229")


def test_patch_without_event_menu_resets_it(garoon: GaroonClient, meeting: Json) -> None:
    response = patch(garoon, meeting["id"], attendees=[user(ATTENDEE)], subject="renamed")
    assert response.status_code == 200, response.text
    assert response.json()["eventMenu"] == ""
    assert response.json()["subject"] == "renamed"


def test_patch_moves_the_event_and_records_the_updater(garoon: GaroonClient, meeting: Json) -> None:
    response = patch(garoon, meeting["id"], start=at("14:00:00"), end=at("15:30:00"), attendees=[user(ATTENDEE)])
    assert response.status_code == 200, response.text
    stored = garoon.api("GET", f"{EVENTS}/{meeting['id']}").json()
    assert parse(stored["start"]["dateTime"]) == parse(f"{FAR_DAY}T14:00:00+09:00")
    assert parse(stored["end"]["dateTime"]) == parse(f"{FAR_DAY}T15:30:00+09:00")
    assert stored["updater"] == ADMIN_REF and UTC_Z.match(stored["updatedAt"])
    assert stored["id"] == meeting["id"] and stored["createdAt"] == meeting["createdAt"]


def test_patch_follows_the_create_rules(garoon: GaroonClient, meeting: Json) -> None:
    response = patch(garoon, meeting["id"], end=None, attendees=[user(ATTENDEE)])
    expect_error(response, 400, "GRN_REST_API_00224")


def test_patch_of_unknown_id_is_404(garoon: GaroonClient) -> None:
    expect_error(patch(garoon, "987654", attendees=[user(ATTENDEE)]), 404, "GRN_SCHD_13001")


# ---------------------------------------------------------------------------------------------- DELETE (4.5)


def test_delete_then_get_is_404(garoon: GaroonClient, meeting: Json) -> None:
    response = garoon.api("DELETE", f"{EVENTS}/{meeting['id']}")
    assert 200 <= response.status_code < 300, response.text
    assert response.content == b""

    expect_error(garoon.api("GET", f"{EVENTS}/{meeting['id']}"), 404, "GRN_SCHD_13001")
    expect_error(garoon.api("DELETE", f"{EVENTS}/{meeting['id']}"), 404, "GRN_SCHD_13001")


def test_deleting_a_series_removes_every_occurrence(garoon: GaroonClient, tenant: DemoTenant) -> None:
    master = masters(tenant)[0]
    assert len(series_items(garoon, master)) > 1

    response = garoon.api("DELETE", f"{EVENTS}/{master['id']}")
    assert 200 <= response.status_code < 300, response.text
    assert series_items(garoon, master) == []
    expect_error(garoon.api("GET", f"{EVENTS}/{master['id']}"), 404, "GRN_SCHD_13001")


# ---------------------------------------------------------------------------------------------- list (4.1)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({"limit": "0"}, "GRN_REST_API_00210", id="limit-0"),
        pytest.param({"limit": "-1"}, "GRN_REST_API_00210", id="limit-negative"),
        pytest.param({"limit": "1001"}, "GRN_REST_API_00211", id="limit-1001"),
        pytest.param({"limit": "abc"}, "GRN_REST_API_00202", id="limit-text"),
        pytest.param({"limit": "1.5"}, "GRN_REST_API_00202", id="limit-decimal"),
        pytest.param({"limit": "--5"}, "GRN_REST_API_00202", id="limit-double-minus"),
        pytest.param({"limit": "²"}, "GRN_REST_API_00202", id="limit-superscript-digit"),
        pytest.param({"offset": "-1"}, "GRN_REST_API_00210", id="offset-negative"),
        pytest.param({"target": "2"}, "GRN_REST_API_00205", id="target-without-targetType"),
        pytest.param({"targetType": "user"}, "GRN_REST_API_00205", id="targetType-without-target"),
        pytest.param({"target": "2", "targetType": "USER"}, "GRN_REST_API_00212", id="targetType-upper-case"),
        pytest.param({"target": "2", "targetType": "room"}, "GRN_REST_API_00212", id="targetType-unknown"),
        pytest.param({"target": "99999", "targetType": "user"}, "GRN_REST_API_00206", id="target-unknown"),
        pytest.param(
            {"rangeStart": "2026-11-10T00:00:00Z", "rangeEnd": "2026-11-10T00:00:00Z"},
            "GRN_REST_API_00203",
            id="rangeEnd-equals-rangeStart",
        ),
        pytest.param(
            {"rangeStart": "2026-11-10T00:00:00Z", "rangeEnd": "2026-11-10T08:59:59+09:00"},
            "GRN_REST_API_00203",
            id="rangeEnd-before-rangeStart",
        ),
        pytest.param({"rangeEnd": "2038-01-01T00:00:00Z"}, "GRN_REST_API_00220", id="rangeEnd-2038"),
        pytest.param({"rangeEnd": "2040-06-01T00:00:00+09:00"}, "GRN_REST_API_00220", id="rangeEnd-2040"),
        pytest.param({"rangeStart": "2026-11-10T00:00:00"}, "GRN_REST_API_00220", id="rangeStart-without-offset"),
        pytest.param({"orderBy": "subject asc"}, "GRN_REST_API_00202", id="orderBy-unknown-property"),
        pytest.param({"orderBy": "start"}, "GRN_REST_API_00202", id="orderBy-without-direction"),
        pytest.param({"orderBy": "start up"}, "GRN_REST_API_00202", id="orderBy-unknown-direction"),
    ],
)
def test_list_refuses_bad_parameters(garoon: GaroonClient, params: Json, code: str) -> None:
    expect_error(garoon.api("GET", EVENTS, params=params), 400, code)


@pytest.mark.parametrize("params", [{"limit": "1000"}, {"limit": "1"}, {"rangeEnd": "2037-12-31T00:00:00Z"}])
def test_list_accepts_boundary_parameters(garoon: GaroonClient, params: Json) -> None:
    response = garoon.api("GET", EVENTS, params=params)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"events", "hasNext"}


def test_default_limit_is_100(garoon: GaroonClient, org_ids: dict[str, str]) -> None:
    garoon.configure(short_pages="off")
    params = {"target": org_ids["sales"], "targetType": "organization"}
    body = garoon.api("GET", EVENTS, params=params).json()
    assert len(body["events"]) == 100 and body["hasNext"] is True
    everything = garoon.api("GET", EVENTS, params={**params, "limit": 1000}).json()
    assert 100 < len(everything["events"]) <= 1000 and everything["hasNext"] is False


def test_has_next_is_false_exactly_on_the_last_page(garoon: GaroonClient, org_ids: dict[str, str]) -> None:
    garoon.configure(short_pages="off")
    params = {"target": org_ids["dev"], "targetType": "organization"}
    total = len(garoon.api("GET", EVENTS, params={**params, "limit": 1000}).json()["events"])
    last = garoon.api("GET", EVENTS, params={**params, "limit": 7, "offset": total - 7}).json()
    assert len(last["events"]) == 7 and last["hasNext"] is False
    before_last = garoon.api("GET", EVENTS, params={**params, "limit": 7, "offset": total - 8}).json()
    assert before_last["hasNext"] is True
    past_end = garoon.api("GET", EVENTS, params={**params, "offset": total}).json()
    assert past_end == {"events": [], "hasNext": False}


@pytest.mark.parametrize(
    ("order_by", "sort_key", "descending"),
    [
        (None, "updatedAt", False),  # the documented default
        ("updatedAt desc", "updatedAt", True),
        ("createdAt asc", "createdAt", False),
        ("createdAt desc", "createdAt", True),
        ("start asc", "start", False),
        ("start desc", "start", True),
    ],
)
def test_order_by(
    garoon: GaroonClient, org_ids: dict[str, str], order_by: str | None, sort_key: str, descending: bool
) -> None:
    params = {"target": org_ids["sales"], "targetType": "organization"}
    if order_by:
        params["orderBy"] = order_by
    events = garoon.all_events(**params)
    values = [parse(e["start"]["dateTime"]) if sort_key == "start" else parse(e[sort_key]) for e in events]
    assert values == sorted(values, reverse=descending)
    assert len(set(values)) > 1


def test_fields_returns_only_the_requested_properties(garoon: GaroonClient, org_ids: dict[str, str]) -> None:
    events = garoon.all_events(target=org_ids["sales"], targetType="organization", fields="id,subject")
    assert events
    assert all(set(e) == {"id", "subject"} for e in events)


def test_keyword_filters_events(garoon: GaroonClient, org_ids: dict[str, str]) -> None:
    params = {"target": org_ids["sales"], "targetType": "organization"}
    everything = garoon.all_events(**params)
    word = "予算"
    found = garoon.all_events(**params, keyword=word)

    assert 0 < len(found) < len(everything)
    assert all(word in e["subject"] + e["notes"] + e["eventMenu"] for e in found)
    assert {key(e) for e in everything if word in e["subject"]} <= {key(e) for e in found}


def test_without_target_only_the_callers_events_are_listed(garoon: GaroonClient, tenant: DemoTenant) -> None:
    person = next(u for u in tenant.garoon_users if u["code"] == ATTENDEE)
    listed = login_as(garoon, ATTENDEE).all_events()

    assert listed and all(involves(e, person) for e in listed)
    one_offs = {e["id"] for e in tenant.garoon_events if e["eventType"] != "REPEATING" and involves(e, person)}
    series = {e["id"] for e in masters(tenant) if involves(e, person)}
    assert {e["id"] for e in listed if "repeatId" not in e} == one_offs
    assert {e["id"] for e in listed if "repeatId" in e} == series
    assert garoon.all_events() == []  # the administrator attends no demo event


def test_private_event_is_listed_only_for_those_who_attend(
    garoon: GaroonClient, private_case: tuple[Json, Json, Json]
) -> None:
    event, insider, outsider = private_case
    window = around(event)

    def listed(client: GaroonClient, **params: Any) -> bool:
        return event["id"] in {e["id"] for e in client.all_events(**window, **params)}

    as_insider, as_outsider = login_as(garoon, insider["code"]), login_as(garoon, outsider["code"])
    assert listed(as_insider)
    assert listed(as_insider, target=insider["id"], targetType="user")
    assert not listed(as_outsider, target=insider["id"], targetType="user")
    assert not listed(garoon, target=insider["id"], targetType="user")
    expect_error(as_outsider.api("GET", f"{EVENTS}/{event['id']}"), 403, "GRN_SCHD_13002")
    assert as_insider.api("GET", f"{EVENTS}/{event['id']}").status_code == 200


def test_admin_sees_private_events_when_configured(garoon: GaroonClient, private_case: tuple[Json, Json, Json]) -> None:
    event, insider, _ = private_case
    garoon.configure(admin_sees_private=True)
    listed = garoon.all_events(**around(event), target=insider["id"], targetType="user")
    assert event["id"] in {e["id"] for e in listed}


def test_truncated_pages_need_paging_by_items_returned(garoon: GaroonClient, tenant: DemoTenant) -> None:
    person = next(u for u in tenant.garoon_users if u["code"] == ATTENDEE)
    params = {"target": person["id"], "targetType": "user"}
    garoon.configure(short_pages="off")
    expected = [key(e) for e in items_of(event_pages(garoon, 1000, **params))]
    garoon.configure(short_pages="truncate")

    first = garoon.api("GET", EVENTS, params={**params, "limit": 10}).json()
    assert len(first["events"]) < 10 and first["hasNext"] is True
    pages = event_pages(garoon, 10, **params)
    collected = [key(e) for e in items_of(pages)]
    assert Counter(collected) == Counter(expected)  # every event exactly once
    assert pages[-1]["hasNext"] is False
    by_limit = [key(e) for e in items_of(event_pages(garoon, 10, by="limit", **params))]
    assert len(set(by_limit)) < len(expected)  # the trap: stepping by limit skips events


def test_hidden_pages_come_short_with_has_next(garoon: GaroonClient, org_ids: dict[str, str]) -> None:
    params = {"target": org_ids["sales"], "targetType": "organization"}
    garoon.configure(short_pages="off")
    expected = {key(e) for e in items_of(event_pages(garoon, 1000, **params))}
    garoon.configure(short_pages="hidden")

    pages = event_pages(garoon, 10, by="limit", **params)
    assert any(len(p["events"]) < 10 and p["hasNext"] for p in pages)
    assert Counter(key(e) for e in items_of(pages)) == Counter(expected)
    assert pages[-1]["hasNext"] is False


# ---------------------------------------------------------------------------------------------- repeating (4.6)


def test_occurrences_share_the_series_id_with_distinct_repeat_ids(garoon: GaroonClient, tenant: DemoTenant) -> None:
    master = masters(tenant)[0]
    items = series_items(garoon, master)
    assert len(items) > 1
    repeat_ids = [e["repeatId"] for e in items]
    assert len(set(repeat_ids)) == len(repeat_ids)
    assert all(e["eventType"] == "REPEATING" and "start" in e for e in items)


def test_occurrence_dates_of_every_demo_series_match_the_oracle(garoon: GaroonClient, tenant: DemoTenant) -> None:
    mismatches = {}
    for master in masters(tenant):
        info = master["repeatInfo"]
        got = sorted(local_date(e, info["timeZone"]) for e in series_items(garoon, master))
        expected = expected_repeat_dates(info)  # exclusiveDateTimes already removed
        if got != expected or not expected:
            mismatches[(master["id"], info["type"])] = (got, expected)
    assert not mismatches


def test_demo_edited_occurrences_replace_their_occurrence(garoon: GaroonClient, tenant: DemoTenant) -> None:
    edited = overrides(tenant)
    assert edited
    for override in edited:
        master = next(m for m in masters(tenant) if m["id"] == override["id"])
        items = {e["repeatId"]: e for e in series_items(garoon, master)}
        listed = items[override["repeatId"]]
        assert listed["subject"] == override["subject"]
        assert parse(listed["start"]["dateTime"]) == parse(override["start"]["dateTime"])


def test_get_of_a_series_id_returns_the_master(garoon: GaroonClient, tenant: DemoTenant) -> None:
    master = masters(tenant)[0]
    body = garoon.api("GET", f"{EVENTS}/{master['id']}").json()
    assert body["eventType"] == "REPEATING"
    assert body["repeatInfo"] == master["repeatInfo"]
    assert "start" not in body and "end" not in body and "repeatId" not in body


def test_seeded_edited_occurrence_replaces_that_occurrence(garoon: GaroonClient, tenant: DemoTenant) -> None:
    edited_ids = {e["id"] for e in overrides(tenant)}
    master = next(
        m
        for m in masters(tenant)
        if m["id"] not in edited_ids and "end" in m["repeatInfo"]["time"] and not m["repeatInfo"]["isAllDay"]
    )
    before = {e["repeatId"]: e for e in series_items(garoon, master)}
    repeat_id = sorted(before)[1]
    original = before[repeat_id]
    moved = {
        name: {**original[name], "dateTime": (parse(original[name]["dateTime"]) + dt.timedelta(hours=2)).isoformat()}
        for name in ("start", "end")
    }
    edit = {"id": master["id"], "repeatId": repeat_id, "eventType": "REPEATING", "subject": "moved", **moved}
    assert garoon.seed([edit]).status_code == 200

    after = {e["repeatId"]: e for e in series_items(garoon, master)}
    assert after.keys() == before.keys()
    assert after[repeat_id]["subject"] == "moved"
    assert parse(after[repeat_id]["start"]["dateTime"]) == parse(original["start"]["dateTime"]) + dt.timedelta(hours=2)
    assert {k: v for k, v in after.items() if k != repeat_id} == {k: v for k, v in before.items() if k != repeat_id}


def test_unknown_repeat_type_lists_only_explicit_occurrences(garoon: GaroonClient) -> None:
    info = repeat_info("EVERY_2WEEKS", "2030-03-01", "2030-03-31", dayOfWeek="MON")
    occurrences = [seeded_occurrence("2030-03-04", "first"), seeded_occurrence("2030-03-18", "second")]
    assert garoon.seed([seeded_master(info), *occurrences]).status_code == 200

    listed = [e for e in garoon.all_events() if e["id"] == SERIES_ID]
    assert [(e["repeatId"], e["subject"]) for e in listed] == [("203003041000", "first"), ("203003181000", "second")]
    assert garoon.api("GET", f"{EVENTS}/{SERIES_ID}").json()["repeatInfo"]["type"] == "EVERY_2WEEKS"


def test_exclusive_date_times_remove_the_matching_occurrence(garoon: GaroonClient) -> None:
    skipped = {"start": f"{FAR_DAY}T10:00:00+09:00", "end": f"{FAR_DAY}T11:00:00+09:00"}
    info = repeat_info("EVERY_DAY", "2030-03-02", "2030-03-06", exclusiveDateTimes=[skipped])
    assert garoon.seed([seeded_master(info)]).status_code == 200

    listed = [e for e in garoon.all_events() if e["id"] == SERIES_ID]
    dates = [local_date(e, TOKYO) for e in listed]
    assert dates == expected_repeat_dates(info)
    assert len(dates) == 4 and dt.date.fromisoformat(FAR_DAY) not in dates


# ---------------------------------------------------------------------------------------------- users (5, 6)


def user_pages(garoon: GaroonClient, path: str, limit: int, **params: Any) -> list[Json]:
    return walk(
        lambda lim, off: garoon.api("GET", path, params={**params, "limit": lim, "offset": off}), "users", limit
    )


def test_base_users_pages_collect_every_user_once_sorted_by_id(garoon: GaroonClient, tenant: DemoTenant) -> None:
    pages = user_pages(garoon, "/base/users", 5)
    users = items_of(pages, "users")
    assert any(len(p["users"]) < 5 and p["hasNext"] for p in pages)
    assert [u["id"] for u in users] == sorted((u["id"] for u in tenant.garoon_users), key=int)
    assert all(set(u) == {"id", "code", "name"} for u in users)  # no e-mail in Garoon (fact sheet 6)


@pytest.mark.parametrize(
    ("name", "codes"), [("佐藤", ["sato-ken"]), ("emily", ["emily-clark"]), ("sato-", ["sato-ken"])]
)
def test_base_users_name_filter(garoon: GaroonClient, name: str, codes: list[str]) -> None:
    users = garoon.api("GET", "/base/users", params={"name": name}).json()["users"]
    assert [u["code"] for u in users] == codes


def test_base_users_ignores_unknown_parameters(garoon: GaroonClient, tenant: DemoTenant) -> None:
    garoon.configure(short_pages="off")
    users = garoon.api("GET", "/base/users", params={"code": ATTENDEE}).json()["users"]
    assert len(users) == len(tenant.garoon_users)


def test_organization_users(garoon: GaroonClient, tenant: DemoTenant) -> None:
    for org in tenant.garoon_organizations:
        listed = items_of(user_pages(garoon, f"/base/organizations/{org['id']}/users", 3), "users")
        members = [u["id"] for u in tenant.garoon_users if org["id"] in u["organizations"]]
        assert [u["id"] for u in listed] == sorted(members, key=int), org["code"]
    expect_error(garoon.api("GET", "/base/organizations/99999/users"), 400, "GRN_REST_API_00206")


def test_organizations_list(garoon: GaroonClient, tenant: DemoTenant) -> None:
    body = garoon.api("GET", "/base/organizations").json()
    assert body["hasNext"] is False
    assert [o["code"] for o in body["organizations"]] == [o["code"] for o in tenant.garoon_organizations]


def test_facilities_pages_collect_every_facility_once(garoon: GaroonClient, tenant: DemoTenant) -> None:
    pages = walk(
        lambda lim, off: garoon.api("GET", "/schedule/facilities", params={"limit": lim, "offset": off}),
        "facilities",
        2,
    )
    listed = items_of(pages, "facilities")
    assert len(pages) > 1
    assert [f["id"] for f in listed] == [f["id"] for f in tenant.garoon_facilities]
    assert all(set(f) == {"id", "name", "code", "notes", "facilityGroup"} for f in listed)


def test_user_api_returns_users_by_code_with_email(garoon: GaroonClient, tenant: DemoTenant) -> None:
    response = garoon.call("GET", USER_API, params={"codes[0]": ATTENDEE, "codes[1]": OTHER_ATTENDEE})
    assert response.status_code == 200, response.text
    users = response.json()["users"]
    by_code = {u["code"]: u for u in tenant.garoon_users}
    assert sorted(u["code"] for u in users) == sorted([ATTENDEE, OTHER_ATTENDEE])
    assert all(u["email"] == by_code[u["code"]]["email"] for u in users)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"ids[0]": "1002", "codes[0]": ATTENDEE}, id="ids-and-codes"),
        pytest.param({"size": "101"}, id="size-101"),
        pytest.param({"size": "0"}, id="size-0"),
        pytest.param({"offset": "x"}, id="offset-text"),
    ],
)
def test_user_api_refuses_bad_parameters(garoon: GaroonClient, params: Json) -> None:
    expect_user_api_error(garoon.call("GET", USER_API, params=params), 400)


def test_user_api_size_100_is_accepted(garoon: GaroonClient, tenant: DemoTenant) -> None:
    response = garoon.call("GET", USER_API, params={"size": "100"})
    assert response.status_code == 200, response.text
    assert len(response.json()["users"]) == len(tenant.garoon_users)


def test_email_join_on_code_covers_every_garoon_user(garoon: GaroonClient, tenant: DemoTenant) -> None:
    garoon_users = items_of(user_pages(garoon, "/base/users", 5), "users")
    params = {f"codes[{i}]": u["code"] for i, u in enumerate(garoon_users)}
    cybozu_users = {u["code"]: u for u in garoon.call("GET", USER_API, params=params).json()["users"]}
    emails = {u["code"]: u["email"] for u in tenant.garoon_users}

    assert {u["code"]: cybozu_users[u["code"]]["email"] for u in garoon_users} == emails
    assert all(cybozu_users[u["code"]]["id"] != u["id"] for u in garoon_users)  # ids differ: join on code


# ---------------------------------------------------------------------------------------------- auth (2)


def test_request_without_auth_is_401_00003(garoon: GaroonClient) -> None:
    expect_error(garoon.api("GET", EVENTS, auth=""), 401, "GRN_REST_API_00003")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b64(f"{ADMIN_LOGIN}:wrong"), id="wrong-password"),
        pytest.param(b64("nobody:garoon-demo-password"), id="unknown-login"),
        pytest.param("%%not-base64%%", id="malformed-base64"),
        pytest.param(b64(ADMIN_LOGIN), id="no-colon"),
        pytest.param("QWRtaW5pc3RyYXRvcjp4é==", id="non-ascii"),
    ],
)
def test_bad_password_auth_is_401_00001(garoon: GaroonClient, header: str) -> None:
    expect_error(garoon.api("GET", EVENTS, auth=header), 401, "GRN_REST_API_00001")


def test_user_api_without_auth_is_401(garoon: GaroonClient) -> None:
    expect_user_api_error(garoon.call("GET", USER_API, auth=""), 401)


def test_basic_auth_guards_the_site(garoon: GaroonClient) -> None:
    garoon.configure(basic_auth="site:secret")
    refused = garoon.api("GET", EVENTS)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic ")
    assert garoon.api("GET", EVENTS, headers={"Authorization": "Basic " + b64("site:wrong")}).status_code == 401

    basic = {"Authorization": "Basic " + b64("site:secret")}
    assert garoon.api("GET", EVENTS, headers=basic).status_code == 200
    expect_error(garoon.api("GET", EVENTS, headers=basic, auth=""), 401, "GRN_REST_API_00003")


def test_oauth_bearer_token_acts_as_its_user(garoon: GaroonClient) -> None:
    token = mint_token(garoon, login=ATTENDEE)
    response = bearer(garoon, "GET", f"/g/api/v1{EVENTS}", token, params={"limit": 1000})
    assert response.status_code == 200, response.text
    assert response.json() == login_as(garoon, ATTENDEE).api("GET", EVENTS, params={"limit": 1000}).json()

    created = bearer(garoon, "POST", f"/g/api/v1{EVENTS}", token, json=event_body())
    assert created.status_code == 200, created.text
    assert created.json()["creator"]["code"] == ATTENDEE


def test_expired_bearer_token_is_401_00006(garoon: GaroonClient) -> None:
    token = mint_token(garoon, expires_in=0)
    expect_error(bearer(garoon, "GET", f"/g/api/v1{EVENTS}", token), 401, "GRN_REST_API_00006")


def test_unknown_bearer_token_is_401_00005(garoon: GaroonClient) -> None:
    expect_error(bearer(garoon, "GET", f"/g/api/v1{EVENTS}", "made-up-token"), 401, "GRN_REST_API_00005")


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [
        pytest.param("g:schedule:read", "POST", EVENTS, id="write-needs-g:schedule:write"),
        pytest.param("g:schedule:write", "GET", EVENTS, id="list-needs-g:schedule:read"),
        pytest.param("g:schedule:read g:schedule:write", "GET", "/base/users", id="users-need-g:base:read"),
    ],
)
def test_bearer_token_without_the_scope_is_401_00007(garoon: GaroonClient, scope: str, method: str, path: str) -> None:
    token = mint_token(garoon, scope=scope)
    body = event_body() if method == "POST" else None
    expect_error(bearer(garoon, method, f"/g/api/v1{path}", token, json=body), 401, "GRN_REST_API_00007")
    assert bearer(garoon, "GET", f"/g/api/v1{EVENTS}", mint_token(garoon)).status_code == 200


# ---------------------------------------------------------------------------------------------- concurrency (7.1)


def test_concurrency_limit_answers_429_00104(garoon: GaroonClient) -> None:
    garoon.configure(max_concurrent=2)
    garoon.faults(latency_ms=300)
    barrier = threading.Barrier(6)
    responses: list[requests.Response] = []

    def one() -> None:
        barrier.wait()
        response = requests.get(
            f"{garoon.base}/g/api/v1/base/users", headers={"X-Cybozu-Authorization": garoon.auth}, timeout=30
        )
        responses.append(response)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert 2 <= statuses[200] < 6
    for response in responses:
        if response.status_code == 429:
            expect_error(response, 429, "GRN_REST_API_00104")
    assert garoon.state()["concurrencyRejected"] == statuses[429]

    garoon.faults()
    assert [garoon.api("GET", "/base/users").status_code for _ in range(6)] == [200] * 6


# ---------------------------------------------------------------------------------------------- inspection


def test_state_has_no_notifications_and_every_stored_event(garoon: GaroonClient, tenant: DemoTenant) -> None:
    create(garoon, event_body())
    state = garoon.state()
    assert state["notifications"] == 0
    stored = [e for e in tenant.garoon_events if "repeatId" not in e]
    assert state["eventCount"] == len(state["events"]) == len(stored) + 1
    assert len(state["occurrenceOverrides"]) == len(overrides(tenant))


def test_reset_restores_the_demo_events(garoon: GaroonClient, tenant: DemoTenant) -> None:
    victim = tenant.garoon_events[0]["id"]
    assert garoon.api("DELETE", f"{EVENTS}/{victim}").status_code < 300
    expect_error(garoon.api("GET", f"{EVENTS}/{victim}"), 404, "GRN_SCHD_13001")

    garoon.http.post(f"{garoon.base}/_emulator/reset", json={}, timeout=10).raise_for_status()
    assert garoon.api("GET", f"{EVENTS}/{victim}").status_code == 200
    assert garoon.state()["eventCount"] == len([e for e in tenant.garoon_events if "repeatId" not in e])


def test_request_log_records_every_call_with_its_status(garoon: GaroonClient) -> None:
    garoon.api("GET", EVENTS, params={"limit": 1})
    garoon.api("GET", f"{EVENTS}/987654")
    garoon.api("POST", EVENTS, json={})
    garoon.api("GET", EVENTS, auth="")

    log = garoon.http.get(f"{garoon.base}/_emulator/requests", timeout=10).json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", f"/g/api/v1{EVENTS}", 200),
        ("GET", f"/g/api/v1{EVENTS}/987654", 404),
        ("POST", f"/g/api/v1{EVENTS}", 400),
        ("GET", f"/g/api/v1{EVENTS}", 401),
    ]
    assert log[0]["rawQuery"] == "limit=1"
